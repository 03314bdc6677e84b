// The GPU worker on Azure Container Apps: a serverless GPU workload profile, scaled by KEDA on the
// length of the encode queue (to zero when it is empty), signed in with its own managed identity. Beside
// it, the retraining worker as a Container Apps job with another identity: an execution starts when a
// train request is queued and runs the job through training, backfill and the switch, then exits
// (Trainer__ExitWhenIdle). Both pull their images from the registry with their own identity and send
// telemetry as it. The environment's logs reach Log Analytics through a diagnostic setting (Azure
// Monitor), so no workspace key is handed to it.

param name string
param location string
param tags object = {}

@description('Resource id and client id of the worker\'s identity (encode, compaction, blob-event relay).')
param workerIdentityId string
param workerIdentityClientId string

@description('Resource id and client id of the retraining job\'s identity.')
param trainerIdentityId string
param trainerIdentityClientId string

param storageAccountName string

@description('Log Analytics workspace the environment\'s console and system logs go to.')
param logAnalyticsWorkspaceId string

@description('The storage-name settings (DPQ_IMAGES_CONTAINER, DPQ_ENCODE_QUEUE, ...) the worker shares with the Function Apps.')
param storageNames object

@description('Login server of the registry both images are pulled from, with each one\'s own identity.')
param registryServer string

@description('Application Insights, which both send telemetry to as their own identity.')
param appInsightsConnectionString string

@description('Image of the worker (gpu-worker/Dockerfile); empty: the one the app runs now, or the placeholder.')
param image string = ''

@description('Whether the worker app exists already (azd: SERVICE_WORKER_RESOURCE_EXISTS).')
param appExists bool = false

@description('Image of the retraining worker (gpu-worker/Dockerfile.trainer); empty: the one the job runs now, or the placeholder.')
param trainerImage string = ''

@description('Whether the retraining job exists already (azd: SERVICE_TRAINER_RESOURCE_EXISTS).')
param trainerExists bool = false

@description('Endpoint of the search catalog; empty: there is none.')
param searchEndpoint string = ''

@description('Name of the catalog\'s index, which the worker creates on first use.')
param searchIndexName string = ''

@description('Share of traces both keep (DpqTelemetry__samplingRatio), as the Function Apps do; empty: not set.')
param telemetrySamplingRatio string = ''

@description('Longest run of one retraining execution, in seconds; a job cut off goes on in the next execution from its last stored stage.')
param trainerTimeoutSeconds int = 14400

@description('Serverless GPU workload profile type.')
param gpuProfileType string = 'Consumption-GPU-NC8as-T4'

@minValue(1)
@maxValue(50)
param maxReplicas int = 10

@description('Queue messages per replica before KEDA adds one. An upload is one message; a bulk import packs up to 64 images into one.')
param messagesPerReplica int = 512

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

var trainerName = '${take(name, 24)}-trainer'

// Until azd deploys the first images, the app and the job run a public image that does nothing and
// exits; a provisioning after that keeps the images they run. The worker's probes fail on the
// placeholder, which does not fail the deployment: a revision counts as provisioned before its
// replicas are healthy.
var placeholderImage = 'mcr.microsoft.com/dotnet/runtime:10.0'

module current 'current-images.bicep' = {
  name: 'current-images'
  params: { appName: name, appExists: appExists, jobName: trainerName, jobExists: trainerExists }
}

var workerImage = !empty(image) ? image : (appExists ? current.outputs.appImage : placeholderImage)
var jobImage = !empty(trainerImage) ? trainerImage : (trainerExists ? current.outputs.jobImage : placeholderImage)

// The worker answers its health probes on this port (DpqHealth__port): liveness on /health/live,
// readiness on /health/ready. /health/live answers 200 as soon as the process listens (503 only once the
// drain loop has finished no pass for 15 minutes), so the startup probe gives a replica about three and
// a half minutes (10 s + 10 x 20 s) to start and listen; the GPU runtime and the model load later, in the
// loop's passes. Container Apps takes
// thresholds of 1-10, initial delays of 1-60 s and periods of 1-240 s (the Bicep types do not check).
var healthPort = 8080
var probes = [
  {
    type: 'Startup'
    httpGet: { path: '/health/live', port: healthPort }
    initialDelaySeconds: 10
    periodSeconds: 20
    timeoutSeconds: 5
    failureThreshold: 10
  }
  {
    type: 'Liveness'
    httpGet: { path: '/health/live', port: healthPort }
    periodSeconds: 30
    timeoutSeconds: 5
    failureThreshold: 3
  }
  {
    type: 'Readiness'
    httpGet: { path: '/health/ready', port: healthPort }
    periodSeconds: 10
    timeoutSeconds: 5
    failureThreshold: 3
  }
]

resource environment 'Microsoft.App/managedEnvironments@2025-01-01' = {
  name: 'cae-${name}'
  location: location
  tags: tags
  properties: {
    appLogsConfiguration: {
      destination: 'azure-monitor'
    }
    workloadProfiles: [
      { name: 'Consumption', workloadProfileType: 'Consumption' }
      { name: 'gpu', workloadProfileType: gpuProfileType }
    ]
  }
}

resource environmentLogs 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'logs-to-workspace'
  scope: environment
  properties: {
    workspaceId: logAnalyticsWorkspaceId
    logs: [
      { category: 'ContainerAppConsoleLogs', enabled: true }
      { category: 'ContainerAppSystemLogs', enabled: true }
    ]
  }
}

resource app 'Microsoft.App/containerApps@2025-01-01' = {
  name: name
  location: location
  tags: union(tags, { 'azd-service-name': 'worker' })
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: { '${workerIdentityId}': {} }
  }
  properties: {
    environmentId: environment.id
    workloadProfileName: 'gpu'
    configuration: {
      activeRevisionsMode: 'Single'
      registries: [ { server: registryServer, identity: workerIdentityId } ]
    }
    template: {
      containers: [
        {
          name: 'worker'
          image: workerImage
          resources: { cpu: json('8'), memory: '56Gi' }
          env: concat(
            identityEnv(storage.properties.primaryEndpoints, appInsightsConnectionString, workerIdentityClientId),
            namesEnv,
            samplingEnv,
            [ { name: 'DpqHealth__port', value: string(healthPort) } ],
            searchEnv(searchEndpoint, searchIndexName, workerIdentityClientId)
          )
          probes: probes
        }
      ]
      scale: {
        minReplicas: 0
        maxReplicas: maxReplicas
        rules: [
          {
            name: 'encode-queue'
            azureQueue: {
              accountName: storage.name
              queueName: storageNames.DPQ_ENCODE_QUEUE
              queueLength: messagesPerReplica
              identity: workerIdentityId
            }
          }
          {
            // Deletes wake the worker too: it turns their events into removals.
            name: 'blob-events'
            azureQueue: {
              accountName: storage.name
              queueName: storageNames.DPQ_BLOB_EVENTS_QUEUE
              queueLength: messagesPerReplica
              identity: workerIdentityId
            }
          }
        ]
      }
    }
  }
}

// What a container signs in as: the DpqStorage connection and telemetry (the same contract as the
// Function Apps' settings), both as the identity with this client id.
func identityEnv(endpoints object, appInsightsConnectionString string, clientId string) array => [
  { name: 'DpqStorage__blobServiceUri', value: endpoints.blob }
  { name: 'DpqStorage__queueServiceUri', value: endpoints.queue }
  { name: 'DpqStorage__tableServiceUri', value: endpoints.table }
  { name: 'DpqStorage__credential', value: 'managedidentity' }
  { name: 'DpqStorage__clientId', value: clientId }
  { name: 'APPLICATIONINSIGHTS_CONNECTION_STRING', value: appInsightsConnectionString }
  { name: 'APPLICATIONINSIGHTS_AUTHENTICATION_STRING', value: 'ClientId=${clientId};Authorization=AAD' }
]

var namesEnv = map(items(storageNames), s => { name: s.key, value: s.value })

var samplingEnv = empty(telemetrySamplingRatio) ? [] : [ { name: 'DpqTelemetry__samplingRatio', value: telemetrySamplingRatio } ]

// The search catalog as the identity with this client id, when there is one.
func searchEnv(endpoint string, indexName string, clientId string) array => empty(endpoint) ? [] : [
  { name: 'DpqSearch__endpoint', value: endpoint }
  { name: 'DpqSearch__indexName', value: indexName }
  { name: 'DpqSearch__clientId', value: clientId }
]

resource trainer 'Microsoft.App/jobs@2025-01-01' = {
  name: trainerName
  location: location
  tags: union(tags, { 'azd-service-name': 'trainer' })
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: { '${trainerIdentityId}': {} }
  }
  properties: {
    environmentId: environment.id
    workloadProfileName: 'Consumption'
    configuration: {
      registries: [ { server: registryServer, identity: trainerIdentityId } ]
      triggerType: 'Event'
      replicaTimeout: trainerTimeoutSeconds
      replicaRetryLimit: 1
      eventTriggerConfig: {
        parallelism: 1
        replicaCompletionCount: 1
        scale: {
          minExecutions: 0
          maxExecutions: 1 // one job at a time; the blob lease enforces it too
          pollingInterval: 30
          rules: [
            {
              name: 'train-queue'
              type: 'azure-queue'
              metadata: {
                accountName: storage.name
                queueName: storageNames.DPQ_TRAIN_QUEUE
                queueLength: '1'
              }
              identity: trainerIdentityId
            }
          ]
        }
      }
    }
    template: {
      containers: [
        {
          name: 'trainer'
          image: jobImage
          resources: { cpu: json('4'), memory: '8Gi' }
          env: concat(
            identityEnv(storage.properties.primaryEndpoints, appInsightsConnectionString, trainerIdentityClientId),
            namesEnv,
            samplingEnv,
            [ { name: 'Trainer__ExitWhenIdle', value: 'true' } ],
            searchEnv(searchEndpoint, searchIndexName, trainerIdentityClientId)
          )
        }
      ]
    }
  }
}

output name string = app.name
output trainerName string = trainer.name
output environmentName string = environment.name
