using System.Globalization;

namespace Dpq.Indexing;

/// <summary>
/// A class name: what an image's blob metadata <c>label</c> (or its import folder) says it shows, what
/// answers carry and what filters take. 1 to <see cref="MaxLength"/> characters of letters, digits,
/// spaces and <c>- _ . ( ) &amp; + ' /</c>, not starting or ending with a space; compared exactly
/// (case-sensitive). Integer labels are names like any other ("3"). No comma, so a list of names
/// fits a query string; no '%', so metadata can carry names outside ASCII percent-encoded.
/// </summary>
public static class ClassLabel
{
    public const int MaxLength = 64;

    /// <summary>The punctuation a name may hold besides letters, digits and spaces.</summary>
    public const string Punctuation = "-_.()&+'/";

    /// <summary>Null when <paramref name="name"/> is a valid class name; otherwise why it is not.</summary>
    public static string? Check(string? name)
    {
        if (string.IsNullOrEmpty(name)) return "the class name is empty";
        if (name.Length > MaxLength) return $"the class name has {name.Length} characters; the limit is {MaxLength}";
        if (name[0] == ' ' || name[^1] == ' ') return $"the class name '{name}' starts or ends with a space";
        for (int i = 0; i < name.Length; i++)
        {
            char c = name[i];
            if (char.IsLetterOrDigit(c) || c == ' ' || Punctuation.Contains(c)) continue;
            var category = CharUnicodeInfo.GetUnicodeCategory(c);
            if (category is UnicodeCategory.NonSpacingMark or UnicodeCategory.SpacingCombiningMark) continue;
            if (char.IsHighSurrogate(c) && i + 1 < name.Length && char.IsLowSurrogate(name[i + 1]) && char.IsLetterOrDigit(name, i)) { i++; continue; }
            return $"the class name '{name}' contains '{c}' (U+{(int)c:X4}); allowed are letters, digits, spaces and {Punctuation}";
        }
        return null;
    }

    /// <summary><paramref name="name"/> if valid; otherwise <see cref="ArgumentException"/> with the reason.</summary>
    public static string Validate(string? name, string? parameterName = null) =>
        Check(name) is { } problem ? throw new ArgumentException(problem, parameterName ?? nameof(name)) : name!;

    /// <summary>Blob metadata <c>label</c>: names in printable ASCII as they are, others percent-encoded UTF-8 (HTTP headers carry only ASCII).</summary>
    public static string ToMetadata(string name) =>
        name.All(c => c is >= ' ' and <= '~') ? name : Uri.EscapeDataString(name);

    /// <summary>The class name blob metadata <c>label</c> holds (percent-decoded when encoded); null when there is none.</summary>
    public static string? FromMetadata(IDictionary<string, string>? metadata)
    {
        if (metadata is null || !metadata.TryGetValue("label", out var value) || string.IsNullOrWhiteSpace(value)) return null;
        value = value.Trim();
        return value.Contains('%') ? Uri.UnescapeDataString(value) : value;
    }
}
