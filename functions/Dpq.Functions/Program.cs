using Dpq;
using Microsoft.Azure.Functions.Worker.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

var builder = FunctionsApplication.CreateBuilder(args);
builder.ConfigureFunctionsWebApplication();
builder.Services.AddDpqCore(builder.Configuration).AddDpqQueryHost();
builder.Services.AddHostedService<Dpq.Functions.QueryWarmUpService>();
builder.Build().Run();
