using Dpq;
using Dpq.ModelVersions;
using Dpq.Telemetry;
using Dpq.Trainer;
using Dpq.Training;
using Microsoft.Extensions.Options;

// The retraining worker: takes train requests and carries each job through training, backfill and the switch
// (RetrainJob). Apart from the encode worker so that serving hosts carry no TorchSharp or libtorch.
var builder = Host.CreateApplicationBuilder(args);
builder.Services.AddDpqCore(builder.Configuration);
builder.Services.AddDpqTelemetry(builder.Configuration, "dpq-trainer");
builder.Services.AddOptions<RetrainingOptions>().BindConfiguration(RetrainingOptions.Section).ValidateDataAnnotations().ValidateOnStart();
builder.Services.AddSingleton(sp => sp.GetRequiredService<IOptions<RetrainingOptions>>().Value);
builder.Services.AddSingleton<IModelTrainer, StorageModelTrainer>();
builder.Services.AddHostedService<RetrainWorker>();
builder.Build().Run();
