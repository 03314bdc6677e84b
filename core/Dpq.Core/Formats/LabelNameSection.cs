using System.Text;

namespace Dpq.Formats;

/// <summary>
/// The label names section of a version 3 segment: entry i names label byte i, as a one-byte UTF-8 length
/// (1 to 255) and the bytes. Names are unique and in ordinal order, so the same items give the same file.
/// Files before version 3 have no section: their label byte b names the class whose name is b's decimal text.
/// </summary>
internal static class LabelNameSection
{
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>The names of label bytes 0..254 in files before version 3.</summary>
    public static string[] Legacy { get; } = [.. Enumerable.Range(0, ShardSegmentFormat.MaxLabelNames).Select(b => b.ToString(System.Globalization.CultureInfo.InvariantCulture))];

    /// <summary>Throws <see cref="ArgumentException"/> when <paramref name="name"/> cannot be stored.</summary>
    public static void Check(string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        int bytes;
        try
        {
            bytes = StrictUtf8.GetByteCount(name);
        }
        catch (EncoderFallbackException e)
        {
            throw new ArgumentException($"label '{name}' is not valid Unicode", nameof(name), e);
        }
        if (bytes > ShardSegmentFormat.MaxLabelNameBytes)
            throw new ArgumentException($"label is {bytes} UTF-8 bytes; the limit is {ShardSegmentFormat.MaxLabelNameBytes}", nameof(name));
    }

    public static byte[] Encode(IReadOnlyList<string> names)
    {
        using var bytes = new MemoryStream();
        foreach (var name in names)
        {
            var utf8 = StrictUtf8.GetBytes(name);
            bytes.WriteByte((byte)utf8.Length);
            bytes.Write(utf8);
        }
        return bytes.ToArray();
    }

    public static string[] Decode(ReadOnlySpan<byte> section)
    {
        var names = new List<string>();
        int at = 0;
        while (at < section.Length)
        {
            int length = section[at++];
            if (length == 0 || at + length > section.Length)
                throw new InvalidDataException($"segment label name {names.Count} has length {length}, past the end of the names section");
            string name;
            try
            {
                name = StrictUtf8.GetString(section.Slice(at, length));
            }
            catch (DecoderFallbackException e)
            {
                throw new InvalidDataException($"segment label name {names.Count} is not valid UTF-8", e);
            }
            if (names.Count > 0 && string.CompareOrdinal(names[^1], name) >= 0)
                throw new InvalidDataException($"segment label names are not unique and in order ('{names[^1]}' before '{name}')");
            names.Add(name);
            at += length;
        }
        if (names.Count > ShardSegmentFormat.MaxLabelNames)
            throw new InvalidDataException($"segment has {names.Count} label names; the limit is {ShardSegmentFormat.MaxLabelNames}");
        return [.. names];
    }
}
