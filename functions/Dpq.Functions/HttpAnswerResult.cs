using Dpq.Query;
using Microsoft.AspNetCore.Http;

namespace Dpq.Functions;

/// <summary>Writes a core <see cref="HttpAnswer"/> as an ASP.NET Core result (shared with the local host).</summary>
public static class HttpAnswerResult
{
    public static IResult From(HttpAnswer answer) => new AnswerResult(answer);

    private sealed class AnswerResult(HttpAnswer answer) : IResult
    {
        public Task ExecuteAsync(HttpContext httpContext)
        {
            var response = httpContext.Response;
            response.StatusCode = answer.Status;
            response.ContentType = answer.ContentType;
            if (answer.RetryAfter is { } retry) response.Headers.RetryAfter = ((int)retry.TotalSeconds).ToString(System.Globalization.CultureInfo.InvariantCulture);
            foreach (var (name, value) in answer.Headers ?? new Dictionary<string, string>()) response.Headers[name] = value;
            return response.Body.WriteAsync(answer.Body).AsTask();
        }
    }
}
