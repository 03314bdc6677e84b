using Dpq;
using Dpq.LocalHost;

var app = LocalHost.Build(args);
app.Run();
