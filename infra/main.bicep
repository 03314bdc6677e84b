// DPQ Serverless: the whole deployment (docs/deploy.md). Storage without shared keys, one user-assigned
// managed identity for every component, the Function App on Flex Consumption, the Event Grid
// system topic for blob-created events, and the GPU worker on Container Apps scaled by KEDA.
// eventgrid-subscription.bicep completes the Event Grid wiring once the function code is deployed.
targetScope = 'resourceGroup'

@description('Short name of the environment, used in resource names (e.g. dev, prod).')
@minLength(2)
@maxLength(10)
param environmentName string

@description('Azure region for every resource.')
param location string = resourceGroup().location

@description('Container image of the GPU worker (gpu-worker/Dockerfile).')
param workerImage string = 'mcr.microsoft.com/dotnet/runtime:10.0'

@description('Container image of the retraining worker (gpu-worker/Dockerfile.trainer); the placeholder until azd deploys one.')
param trainerImage string = 'mcr.microsoft.com/dotnet/runtime:10.0'

@description('NCRONTAB schedule of retraining requests.')
param retrainSchedule string = '0 0 3 * * 0'

@description('NCRONTAB schedule of the reconcile sweep.')
param reconcileSchedule string = '0 */15 * * * *'

var suffix = uniqueString(resourceGroup().id, environmentName)
var tags = { 'azd-env-name': environmentName, application: 'dpq-serverless' }
var names = {
  DPQ_IMAGES_CONTAINER: 'images'
  DPQ_IMPORTS_CONTAINER: 'imports'
  DPQ_MODELS_CONTAINER: 'models'
  DPQ_SEGMENTS_CONTAINER: 'segments'
  DPQ_ENCODE_QUEUE: 'encode-requests'
  DPQ_TRAIN_QUEUE: 'train-requests'
  DPQ_BLOB_EVENTS_QUEUE: 'blob-events'
  DPQ_CODES_TABLE: 'codes'
  DPQ_MANIFESTS_TABLE: 'manifests'
  DPQ_FAILURES_TABLE: 'failures'
}

var deadLetterContainer = 'eventgrid-deadletter'

module storage 'modules/storage.bicep' = {
  name: 'storage'
  params: {
    name: take('dpq${toLower(environmentName)}${suffix}', 24)
    location: location
    tags: tags
    containers: [
      names.DPQ_IMAGES_CONTAINER
      names.DPQ_IMPORTS_CONTAINER
      names.DPQ_MODELS_CONTAINER
      names.DPQ_SEGMENTS_CONTAINER
      'deployments'
      deadLetterContainer
    ]
    queues: [
      names.DPQ_ENCODE_QUEUE
      '${names.DPQ_ENCODE_QUEUE}-poison'
      names.DPQ_TRAIN_QUEUE
      'webjobs-blobtrigger-poison'
      names.DPQ_BLOB_EVENTS_QUEUE
      '${names.DPQ_BLOB_EVENTS_QUEUE}-poison'
    ]
    tables: [
      names.DPQ_CODES_TABLE
      names.DPQ_MANIFESTS_TABLE
      names.DPQ_FAILURES_TABLE
    ]
  }
}

module identity 'modules/identity.bicep' = {
  name: 'identity'
  params: {
    name: 'id-dpq-${environmentName}-${suffix}'
    location: location
    tags: tags
    storageAccountName: storage.outputs.name
  }
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  params: {
    name: 'dpq-${environmentName}-${suffix}'
    location: location
    tags: tags
  }
}

module functions 'modules/functionapp.bicep' = {
  name: 'functions'
  params: {
    name: 'func-dpq-${environmentName}-${suffix}'
    location: location
    tags: tags
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    storageAccountName: storage.outputs.name
    appInsightsConnectionString: monitoring.outputs.appInsightsConnectionString
    appSettings: union(names, {
      DPQ_RETRAIN_SCHEDULE: retrainSchedule
      DPQ_RECONCILE_SCHEDULE: reconcileSchedule
      Models__CacheDirectory: '/tmp/dpq-models'
      // Queries arrive concurrently: one thread per forward pass serves more of them (docs/pipeline.md).
      Inference__IntraOpThreads: '1'
    })
  }
}

module events 'modules/eventgrid.bicep' = {
  name: 'eventgrid'
  params: {
    name: 'evgt-dpq-${environmentName}-${suffix}'
    location: location
    tags: tags
    storageAccountName: storage.outputs.name
    blobEventsQueue: names.DPQ_BLOB_EVENTS_QUEUE
    watchedContainers: [ names.DPQ_IMAGES_CONTAINER, names.DPQ_IMPORTS_CONTAINER ]
    deadLetterContainer: deadLetterContainer
  }
}

module worker 'modules/worker.bicep' = {
  name: 'worker'
  params: {
    name: 'ca-dpq-worker-${environmentName}'
    location: location
    tags: tags
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    storageAccountName: storage.outputs.name
    logAnalyticsWorkspaceId: monitoring.outputs.workspaceId
    storageNames: names
    image: workerImage
    trainerImage: trainerImage
  }
}

// The names the apps use for the identity-based connection called "DpqStorage".
output DpqStorage__blobServiceUri string = storage.outputs.blobEndpoint
output DpqStorage__queueServiceUri string = storage.outputs.queueEndpoint
output DpqStorage__tableServiceUri string = storage.outputs.tableEndpoint
output DpqStorage__clientId string = identity.outputs.clientId
output AZURE_STORAGE_ACCOUNT_NAME string = storage.outputs.name
output AZURE_FUNCTION_APP_NAME string = functions.outputs.name
output AZURE_EVENTGRID_SYSTEM_TOPIC string = events.outputs.name
output AZURE_WORKER_APP_NAME string = worker.outputs.name
output AZURE_TRAINER_JOB_NAME string = worker.outputs.trainerName
