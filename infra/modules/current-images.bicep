// The images the worker app and the retraining job run now, read only where the resource exists, so
// that provisioning again keeps what azd deployed instead of putting the placeholder back. A module of
// its own: ARM reads these before worker.bicep writes the same resources.

param appName string
param appExists bool
param jobName string
param jobExists bool

resource app 'Microsoft.App/containerApps@2025-01-01' existing = if (appExists) {
  name: appName
}

resource job 'Microsoft.App/jobs@2025-01-01' existing = if (jobExists) {
  name: jobName
}

output appImage string = appExists ? app!.properties.template!.containers![0].image! : ''
output jobImage string = jobExists ? job!.properties.template!.containers![0].image! : ''
