using Dpq.Indexing;

namespace Dpq.Tests.Indexing;

public sealed class ClassLabelTests
{
    [Theory]
    [InlineData("Trouser")]
    [InlineData("T-shirt/top")]
    [InlineData("Ankle boot")]
    [InlineData("3")]
    [InlineData("Écharpe d'été (laine) & co_2.0+")]
    [InlineData("靴")]
    [InlineData("𝔸lpha")] // a letter outside the BMP: a surrogate pair
    public void NamesOfLettersDigitsSpacesAndTheListedPunctuationAreValid(string name) => Assert.Null(ClassLabel.Check(name));

    [Theory]
    [InlineData("", "empty")]
    [InlineData(" bag", "starts or ends with a space")]
    [InlineData("bag ", "starts or ends with a space")]
    [InlineData("bag,shoe", "contains ','")]
    [InlineData("100%", "contains '%'")]
    [InlineData("tab\there", "U+0009")]
    public void OtherNamesAreRefusedWithTheReason(string name, string reason) => Assert.Contains(reason, ClassLabel.Check(name));

    [Fact]
    public void ALoneSurrogateIsRefused() => Assert.Contains("U+D800", ClassLabel.Check("lone\ud800"));

    [Fact]
    public void ALongNameIsRefused()
    {
        Assert.Null(ClassLabel.Check(new string('a', ClassLabel.MaxLength)));
        Assert.Contains($"limit is {ClassLabel.MaxLength}", ClassLabel.Check(new string('a', ClassLabel.MaxLength + 1)));
    }

    [Theory]
    [InlineData("Ankle boot", "Ankle boot")]
    [InlineData("T-shirt/top", "T-shirt/top")]
    [InlineData("Écharpe", "%C3%89charpe")]
    public void MetadataCarriesAsciiNamesAsTheyAreAndOthersPercentEncoded(string name, string metadata)
    {
        Assert.Equal(metadata, ClassLabel.ToMetadata(name));
        Assert.Equal(name, ClassLabel.FromMetadata(new Dictionary<string, string> { ["label"] = ClassLabel.ToMetadata(name) }));
    }

    [Fact]
    public void MissingOrBlankMetadataIsNoLabel()
    {
        Assert.Null(ClassLabel.FromMetadata(null));
        Assert.Null(ClassLabel.FromMetadata(new Dictionary<string, string>()));
        Assert.Null(ClassLabel.FromMetadata(new Dictionary<string, string> { ["label"] = "  " }));
        Assert.Equal("7", ClassLabel.FromMetadata(new Dictionary<string, string> { ["label"] = " 7 " }));
    }
}
