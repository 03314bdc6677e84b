using Dpq.Formats;

namespace Dpq.Scan;

/// <summary>
/// Float scoring, scalar: the test oracle and the re-rank of quantized candidates. A score is summed
/// level 0 first, starting from 0f, in every caller, so the same item always gets the same float.
/// </summary>
internal static unsafe class ExactKernels
{
    /// <summary>Score of a row-major K = 256 code.</summary>
    public static float ScoreRow(byte* code, float* tables, int levels)
    {
        float score = 0f;
        for (int l = 0; l < levels; l++) score += tables[(l << 8) + code[l]];
        return score;
    }

    /// <summary>Score of the K = 16 code whose byte 0 is at <paramref name="lane"/> in a 64-item block.</summary>
    public static float ScoreBlocked(byte* lane, float* tables, int levels)
    {
        float score = 0f;
        for (int l = 0; l < levels; l++)
        {
            int b = lane[(l >> 1) * BlockedCodes.BlockItems];
            score += tables[(l << 4) + ((l & 1) == 0 ? b & 0xF : b >> 4)];
        }
        return score;
    }

    /// <summary>Exact score of one item, whatever the segment's layout.</summary>
    public static float Score(ShardSegment segment, int item, float* tables, int levels)
    {
        fixed (byte* codes = segment.CodeArray)
        {
            int bytes = segment.Format.BytesPerCode;
            return segment.Layout == CodeLayout.RowMajor
                ? ScoreRow(codes + (long)item * bytes, tables, levels)
                : ScoreBlocked(codes + BlockedCodes.Offset(item, 0, bytes), tables, levels);
        }
    }

    public static void Scan<THandler>(ShardSegment segment, float* tables, int levels, int start, int end, ref THandler handler)
        where THandler : struct, IScoreHandler
    {
        int bytes = segment.Format.BytesPerCode;
        bool rowMajor = segment.Layout == CodeLayout.RowMajor;
        float threshold = handler.Threshold;
        fixed (byte* codes = segment.CodeArray)
        {
            for (int i = start; i < end; i++)
            {
                float score = rowMajor
                    ? ScoreRow(codes + (long)i * bytes, tables, levels)
                    : ScoreBlocked(codes + BlockedCodes.Offset(i, 0, bytes), tables, levels);
                if (score >= threshold)
                {
                    handler.Offer(i, score);
                    threshold = handler.Threshold;
                }
            }
        }
    }
}
