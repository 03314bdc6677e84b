using Dpq;
using Dpq.Worker;

var builder = Host.CreateApplicationBuilder(args);
builder.Services.AddDpqCore(builder.Configuration);
builder.Services.AddHostedService<EncodeQueueWorker>();
builder.Services.AddHostedService<CompactionWorker>();
builder.Services.AddHostedService<BlobEventWorker>();
builder.Build().Run();
