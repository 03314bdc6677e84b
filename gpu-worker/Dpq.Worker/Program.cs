using Dpq;
using Dpq.Telemetry;
using Dpq.Worker;

var builder = Host.CreateApplicationBuilder(args);
builder.Services.AddDpqCore(builder.Configuration);
builder.Services.AddDpqTelemetry(builder.Configuration, "dpq-worker");
builder.Services.AddHostedService<EncodeQueueWorker>();
builder.Services.AddHostedService<CompactionWorker>();
builder.Services.AddHostedService<BlobEventWorker>();
builder.Services.AddHostedService<HealthEndpoint>();
builder.Build().Run();
