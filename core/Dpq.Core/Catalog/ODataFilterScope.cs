namespace Dpq.Catalog;

/// <summary>
/// Whether a caller's filter stays inside the parentheses it is put in: outside string literals (<c>'…'</c>,
/// with <c>''</c> for a quote) its parentheses balance and never close more than they opened, and no literal
/// is left open. Only such a filter may be joined to the version scope (<c>modelVersion eq '…' and (filter)</c>);
/// one like <c>x) or (y</c> would otherwise reach every version's documents.
/// </summary>
public static class ODataFilterScope
{
    public static string? Problem(string filter)
    {
        var depth = 0;
        var inLiteral = false;
        for (var i = 0; i < filter.Length; i++)
        {
            var c = filter[i];
            if (inLiteral)
            {
                if (c != '\'') continue;
                if (i + 1 < filter.Length && filter[i + 1] == '\'') i++; // an escaped quote
                else inLiteral = false;
            }
            else if (c == '\'') inLiteral = true;
            else if (c == '(') depth++;
            else if (c == ')' && --depth < 0) return $"a ')' at {i} closes more than the filter opened";
        }
        if (inLiteral) return "a string literal is not closed (a quote inside one is written '')";
        return depth == 0 ? null : $"{depth} '(' not closed";
    }
}
