// DPQ Serverless: the whole deployment (docs/deploy.md), by `azd up` (azure.yaml, main.parameters.json)
// or by `az deployment group create`. Storage without shared keys; one user-assigned managed identity
// per component (query, intake, worker, trainer), each allowed only the containers, queues and tables it
// uses (the storage-access modules below); two Function Apps on Flex Consumption from the same package
// (the internet-facing query app and the intake app), each with its own host account for
// AzureWebJobsStorage and its deployment package; the Event Grid system topic for blob events; the
// registry; the GPU worker on Container Apps scaled by KEDA and the retraining job; optionally the
// search catalog. eventgrid-subscription.bicep subscribes to the blob events once the function code is
// deployed (azd's postdeploy hook, scripts/azd-postdeploy.sh).
targetScope = 'resourceGroup'

@description('Short name of the environment, part of every resource name (e.g. dev, prod): 2 to 10 letters, digits and dashes, starting with a letter, not ending with a dash, no two dashes in a row. Resource names take it in lower case.')
@minLength(2)
@maxLength(10)
param environmentName string

@description('Azure region for every resource.')
param location string = resourceGroup().location

@description('Container image of the GPU worker (gpu-worker/Dockerfile); empty: the one the app runs now (azd deploys it), or a placeholder.')
param workerImage string = ''

@description('Whether the worker app exists already; azd sets SERVICE_WORKER_RESOURCE_EXISTS.')
param workerExists bool = false

@description('Container image of the retraining worker (gpu-worker/Dockerfile.trainer); empty: the one the job runs now (azd deploys it), or a placeholder.')
param trainerImage string = ''

@description('Whether the retraining job exists already; azd sets SERVICE_TRAINER_RESOURCE_EXISTS.')
param trainerExists bool = false

@description('Whether to add the Azure AI Search service of the image catalog (azd: SEARCH_CATALOG).')
param searchCatalog bool = false

@description('NCRONTAB schedule of retraining requests. Empty (the default): no timer; retrain on demand (POST /api/admin/retrain on the intake app, ./dpq retrain). Every run trains and re-encodes every image on the GPU, so a schedule costs GPU time even when nothing changed.')
param retrainSchedule string = ''

@description('Share of traces kept, 0 to 1 (DpqTelemetry__samplingRatio), the same in the query app, the intake app, the worker and the job, so a trace that crosses them (an upload through intake and the worker) is kept or dropped whole. 0.1 by default: about a tenth of the trace volume, and of its ingestion cost, at the price of seeing one trace in ten of any path; metrics and the failures table still count everything. 1 keeps every trace. Empty: each component\'s exporter limits itself to a few traces a second, which can keep one half of a trace and drop the other.')
param telemetrySamplingRatio string = '0.1'

@description('NCRONTAB schedule of the reconcile sweep, the safety net for blob events that were missed or dead-lettered. Daily by default: each pass lists every image, which is most of an idle deployment\'s cost when run often.')
param reconcileSchedule string = '0 30 3 * * *'

// From the name as given, so that it stays the suffix earlier deployments used.
var suffix = uniqueString(resourceGroup().id, environmentName)

var letters = 'abcdefghijklmnopqrstuvwxyz'
var lowerName = toLower(environmentName)
// The rule in environmentName's description (Bicep has no patterns for parameters: each character is
// looked up). Container Apps and the search service refuse two dashes in a row and a name that ends in
// one: most names put a dash after the environment name, and the worker's ends with it. (Not a
// user-defined function: one would compile the template to language version 2.0.)
var otherCharacterIndexes = filter(range(0, length(lowerName)), i => !contains('${letters}0123456789-', substring(lowerName, i, 1)))
var keepsTheRule = empty(otherCharacterIndexes) && contains(letters, first(lowerName)) && !endsWith(lowerName, '-') && !contains(lowerName, '--')
// The environment name as resource names take it: in lower case, and only once it keeps the rule.
// Anything else stops the deployment, with the rule, before it names a resource.
var envName = keepsTheRule
  ? lowerName
  : fail('environmentName \'${environmentName}\' cannot be part of resource names: use 2 to 10 letters, digits and dashes, starting with a letter, not ending with a dash, with no two dashes in a row')
// The sampling ratio as the components read it (a float, invariant culture), once it is one from 0 to 1:
// digits and a point only, then compared as a number.
var ratioOtherCharacterIndexes = filter(range(0, length(telemetrySamplingRatio)), i => !contains('0123456789.', substring(telemetrySamplingRatio, i, 1)))
var samplingRatio = empty(telemetrySamplingRatio) || (empty(ratioOtherCharacterIndexes) && json(telemetrySamplingRatio) <= 1)
  ? telemetrySamplingRatio
  : fail('telemetrySamplingRatio \'${telemetrySamplingRatio}\' is not a number from 0 to 1 (such as 0.1), nor empty')
var samplingSettings = empty(samplingRatio) ? {} : { DpqTelemetry__samplingRatio: samplingRatio }

// Storage accounts and registries take letters and digits only; azd environment names often have dashes.
var compactName = replace(envName, '-', '')
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

// The functions in the package (functions/Dpq.Functions) and the app that runs each one.
var queryFunctions = [ 'Query', 'IndexStatus', 'SearchPage', 'Thumbnail', 'Failures', 'OpenApi' ]
var intakeFunctions = [ 'BlobUploadTrigger', 'IntakePoisonTrigger', 'ReconcileTimerTrigger', 'RetrainTimerTrigger', 'Retrain' ]
// Without a retraining schedule the timer is off in the intake app as well.
var retrainTimerOff = empty(retrainSchedule) ? [ 'RetrainTimerTrigger' ] : []

// Where the Functions host moves a blob trigger that failed too often, and where its queue trigger
// (IntakePoisonTrigger) moves a message of that queue that failed too often.
var blobTriggerPoisonQueue = 'webjobs-blobtrigger-poison'
var intakePoisonPoisonQueue = '${blobTriggerPoisonQueue}-poison'
// Where the worker puts encode requests and blob events it cannot carry out.
var encodePoisonQueue = '${names.DPQ_ENCODE_QUEUE}-poison'
var blobEventsPoisonQueue = '${names.DPQ_BLOB_EVENTS_QUEUE}-poison'

module storage 'modules/storage.bicep' = {
  name: 'storage'
  params: {
    name: take('dpq${compactName}${suffix}', 24)
    location: location
    tags: tags
    containers: [
      names.DPQ_IMAGES_CONTAINER
      names.DPQ_IMPORTS_CONTAINER
      names.DPQ_MODELS_CONTAINER
      names.DPQ_SEGMENTS_CONTAINER
      deadLetterContainer
    ]
    queues: [
      names.DPQ_ENCODE_QUEUE
      encodePoisonQueue
      names.DPQ_TRAIN_QUEUE
      blobTriggerPoisonQueue
      intakePoisonPoisonQueue
      names.DPQ_BLOB_EVENTS_QUEUE
      blobEventsPoisonQueue
    ]
    tables: [
      names.DPQ_CODES_TABLE
      names.DPQ_MANIFESTS_TABLE
      names.DPQ_FAILURES_TABLE
    ]
  }
}

// Each Function App's own host account: its keys, timer locks, blob-trigger receipts and its
// deployment package. Only that app's identity holds a role on it.
module queryHost 'modules/storage.bicep' = {
  name: 'host-storage-query'
  params: {
    name: take('fnq${compactName}${suffix}', 24)
    location: location
    tags: tags
    containers: [ 'deployments' ]
    queues: []
    tables: []
  }
}

module intakeHost 'modules/storage.bicep' = {
  name: 'host-storage-intake'
  params: {
    name: take('fni${compactName}${suffix}', 24)
    location: location
    tags: tags
    containers: [ 'deployments' ]
    queues: []
    tables: []
  }
}

module queryIdentity 'modules/identity.bicep' = {
  name: 'identity-query'
  params: { name: 'id-dpq-query-${envName}-${suffix}', location: location, tags: tags }
}

module intakeIdentity 'modules/identity.bicep' = {
  name: 'identity-intake'
  params: { name: 'id-dpq-intake-${envName}-${suffix}', location: location, tags: tags }
}

module workerIdentity 'modules/identity.bicep' = {
  name: 'identity-worker'
  params: { name: 'id-dpq-worker-${envName}-${suffix}', location: location, tags: tags }
}

module trainerIdentity 'modules/identity.bicep' = {
  name: 'identity-trainer'
  params: { name: 'id-dpq-trainer-${envName}-${suffix}', location: location, tags: tags }
}

// What each identity may do in the data account, one container, queue or table at a time.

// The internet-facing query app reads what it serves: the index and the model (queries), the images
// (the search page's thumbnails) and the failures (its index view). It writes nothing.
module queryAccess 'modules/storage-access.bicep' = {
  name: 'access-query'
  params: {
    principalId: queryIdentity.outputs.principalId
    storageAccountName: storage.outputs.name
    containers: [
      { name: names.DPQ_SEGMENTS_CONTAINER, role: 'Storage Blob Data Reader' }
      { name: names.DPQ_MODELS_CONTAINER, role: 'Storage Blob Data Reader' }
      { name: names.DPQ_IMAGES_CONTAINER, role: 'Storage Blob Data Reader' }
      { name: names.DPQ_IMPORTS_CONTAINER, role: 'Storage Blob Data Reader' }
    ]
    tables: [
      { name: names.DPQ_MANIFESTS_TABLE, role: 'Storage Table Data Reader' }
      { name: names.DPQ_CODES_TABLE, role: 'Storage Table Data Reader' }
      { name: names.DPQ_FAILURES_TABLE, role: 'Storage Table Data Reader' }
    ]
  }
}

// Intake: reads uploads and imports (trigger, reconciler), the active index and model (reconciler),
// records failures, sends encode and train requests, handles the blob trigger's poison queue.
module intakeAccess 'modules/storage-access.bicep' = {
  name: 'access-intake'
  params: {
    principalId: intakeIdentity.outputs.principalId
    storageAccountName: storage.outputs.name
    containers: [
      { name: names.DPQ_IMAGES_CONTAINER, role: 'Storage Blob Data Reader' }
      { name: names.DPQ_IMPORTS_CONTAINER, role: 'Storage Blob Data Reader' }
      { name: names.DPQ_SEGMENTS_CONTAINER, role: 'Storage Blob Data Reader' }
      { name: names.DPQ_MODELS_CONTAINER, role: 'Storage Blob Data Reader' }
    ]
    queues: [
      { name: names.DPQ_ENCODE_QUEUE, role: 'Storage Queue Data Message Sender' }
      { name: names.DPQ_ENCODE_QUEUE, role: 'Storage Queue Data Reader' } // the reconciler reads its length
      { name: names.DPQ_TRAIN_QUEUE, role: 'Storage Queue Data Message Sender' }
      { name: blobTriggerPoisonQueue, role: 'Storage Queue Data Message Sender' } // the host moves failed uploads here
      { name: blobTriggerPoisonQueue, role: 'Storage Queue Data Reader' } // IntakePoisonTrigger
      { name: blobTriggerPoisonQueue, role: 'Storage Queue Data Message Processor' }
      { name: intakePoisonPoisonQueue, role: 'Storage Queue Data Message Sender' }
    ]
    tables: [
      { name: names.DPQ_MANIFESTS_TABLE, role: 'Storage Table Data Reader' }
      { name: names.DPQ_FAILURES_TABLE, role: 'Storage Table Data Contributor' }
    ]
  }
}

// The worker: encodes uploads into the index (segments, codes, manifests), compacts it, relays
// blob-deleted events, records failures.
module workerAccess 'modules/storage-access.bicep' = {
  name: 'access-worker'
  params: {
    principalId: workerIdentity.outputs.principalId
    storageAccountName: storage.outputs.name
    containers: [
      { name: names.DPQ_IMAGES_CONTAINER, role: 'Storage Blob Data Reader' }
      { name: names.DPQ_IMPORTS_CONTAINER, role: 'Storage Blob Data Reader' }
      { name: names.DPQ_MODELS_CONTAINER, role: 'Storage Blob Data Reader' }
      { name: names.DPQ_SEGMENTS_CONTAINER, role: 'Storage Blob Data Contributor' }
    ]
    queues: [
      // Receives, shrinks (updates) and deletes batches; sends the removals that blob events become.
      { name: names.DPQ_ENCODE_QUEUE, role: 'Storage Queue Data Contributor' }
      { name: encodePoisonQueue, role: 'Storage Queue Data Message Sender' }
      { name: names.DPQ_BLOB_EVENTS_QUEUE, role: 'Storage Queue Data Reader' } // KEDA reads its length
      { name: names.DPQ_BLOB_EVENTS_QUEUE, role: 'Storage Queue Data Message Processor' }
      { name: blobEventsPoisonQueue, role: 'Storage Queue Data Message Sender' }
    ]
    tables: [
      { name: names.DPQ_CODES_TABLE, role: 'Storage Table Data Contributor' }
      { name: names.DPQ_MANIFESTS_TABLE, role: 'Storage Table Data Contributor' }
      { name: names.DPQ_FAILURES_TABLE, role: 'Storage Table Data Contributor' }
    ]
  }
}

// The retraining job: trains on the images, writes model versions, their records, job state and the
// active pointer; the backfill builds the new version's index; retention deletes old versions' index.
module trainerAccess 'modules/storage-access.bicep' = {
  name: 'access-trainer'
  params: {
    principalId: trainerIdentity.outputs.principalId
    storageAccountName: storage.outputs.name
    containers: [
      { name: names.DPQ_IMAGES_CONTAINER, role: 'Storage Blob Data Reader' }
      { name: names.DPQ_IMPORTS_CONTAINER, role: 'Storage Blob Data Reader' }
      { name: names.DPQ_MODELS_CONTAINER, role: 'Storage Blob Data Contributor' }
      { name: names.DPQ_SEGMENTS_CONTAINER, role: 'Storage Blob Data Contributor' }
    ]
    queues: [
      // Receives a request, holds it invisible while the job runs (update), deletes it at the end.
      { name: names.DPQ_TRAIN_QUEUE, role: 'Storage Queue Data Contributor' }
      { name: names.DPQ_ENCODE_QUEUE, role: 'Storage Queue Data Message Sender' } // backfill
      { name: names.DPQ_ENCODE_QUEUE, role: 'Storage Queue Data Reader' } // the backfill reads its length
    ]
    tables: [
      { name: names.DPQ_CODES_TABLE, role: 'Storage Table Data Contributor' }
      { name: names.DPQ_MANIFESTS_TABLE, role: 'Storage Table Data Contributor' }
      { name: names.DPQ_FAILURES_TABLE, role: 'Storage Table Data Reader' } // refused images count as covered
    ]
  }
}

// A Functions host on its own account: blobs (keys, locks, receipts, the package: the host makes its
// containers), tables (diagnostic events), and for the intake app's blob trigger, queues.
module queryHostAccess 'modules/storage-access.bicep' = {
  name: 'access-query-host'
  params: {
    principalId: queryIdentity.outputs.principalId
    storageAccountName: queryHost.outputs.name
    accountRoles: [ 'Storage Blob Data Contributor', 'Storage Table Data Contributor' ]
  }
}

module intakeHostAccess 'modules/storage-access.bicep' = {
  name: 'access-intake-host'
  params: {
    principalId: intakeIdentity.outputs.principalId
    storageAccountName: intakeHost.outputs.name
    accountRoles: [ 'Storage Blob Data Contributor', 'Storage Queue Data Contributor', 'Storage Table Data Contributor' ]
  }
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  params: {
    name: 'dpq-${envName}-${suffix}'
    location: location
    tags: tags
    // Every component sends telemetry as its own identity (and the worker and the job log to the
    // console, the environment's logs).
    telemetryPublishers: [
      queryIdentity.outputs.principalId
      intakeIdentity.outputs.principalId
      workerIdentity.outputs.principalId
      trainerIdentity.outputs.principalId
    ]
  }
}

// The images the worker and the job run come from here; only their own identities may pull them.
module registry 'modules/registry.bicep' = {
  name: 'registry'
  params: {
    name: take('crdpq${compactName}${suffix}', 50)
    location: location
    tags: tags
    pullers: [ workerIdentity.outputs.principalId, trainerIdentity.outputs.principalId ]
  }
}

// The optional search catalog: the worker creates the index on first use and writes its documents, the
// job deletes a retired version's documents (its backfill only queues encode requests, which the worker
// carries out), the query app reads it; the intake app has no part in it. Search Service Contributor,
// which creating the index needs, can manage the whole service (its keys, key authentication): only the
// worker holds it, on this service alone. Creating the index at deployment would take it away.
var searchIndexName = 'dpq-images'

module search 'modules/search.bicep' = if (searchCatalog) {
  name: 'search'
  params: {
    name: 'srch-dpq-${envName}-${suffix}'
    location: location
    tags: tags
    grants: [
      { principalId: queryIdentity.outputs.principalId, role: 'Search Index Data Reader' }
      { principalId: workerIdentity.outputs.principalId, role: 'Search Index Data Contributor' }
      { principalId: workerIdentity.outputs.principalId, role: 'Search Service Contributor' }
      { principalId: trainerIdentity.outputs.principalId, role: 'Search Index Data Contributor' }
    ]
  }
}

// Empty without the catalog: then no component gets its settings.
var searchEndpoint = searchCatalog ? search!.outputs.endpoint : ''

var functionSettings = union(names, {
  // A disabled timer is still indexed by the host, which needs a valid schedule for it.
  DPQ_RETRAIN_SCHEDULE: empty(retrainSchedule) ? '0 0 3 * * 0' : retrainSchedule
  DPQ_RECONCILE_SCHEDULE: reconcileSchedule
  Models__CacheDirectory: '/tmp/dpq-models'
  // Queries arrive concurrently: one thread per forward pass serves more of them (docs/pipeline.md).
  Inference__IntraOpThreads: '1'
}, samplingSettings)

module queryApp 'modules/functionapp.bicep' = {
  name: 'functions-query'
  dependsOn: [ queryAccess, queryHostAccess ]
  params: {
    name: 'func-dpq-${envName}-${suffix}'
    location: location
    tags: tags
    serviceName: 'query'
    identityId: queryIdentity.outputs.id
    identityClientId: queryIdentity.outputs.clientId
    storageAccountName: storage.outputs.name
    hostStorageAccountName: queryHost.outputs.name
    appInsightsConnectionString: monitoring.outputs.appInsightsConnectionString
    disabledFunctions: intakeFunctions
    appSettings: functionSettings
    searchEndpoint: searchEndpoint
    searchIndexName: searchIndexName
  }
}

module intakeApp 'modules/functionapp.bicep' = {
  name: 'functions-intake'
  dependsOn: [ intakeAccess, intakeHostAccess ]
  params: {
    name: 'func-dpq-intake-${envName}-${suffix}'
    location: location
    tags: tags
    serviceName: 'intake'
    identityId: intakeIdentity.outputs.id
    identityClientId: intakeIdentity.outputs.clientId
    storageAccountName: storage.outputs.name
    hostStorageAccountName: intakeHost.outputs.name
    appInsightsConnectionString: monitoring.outputs.appInsightsConnectionString
    disabledFunctions: concat(queryFunctions, retrainTimerOff)
    // It answers no queries: loading the model and index as it starts would only cost memory.
    appSettings: union(functionSettings, { Query__WarmUp: 'false' })
  }
}

module events 'modules/eventgrid.bicep' = {
  name: 'eventgrid'
  params: {
    name: 'evgt-dpq-${envName}-${suffix}'
    location: location
    tags: tags
    storageAccountName: storage.outputs.name
    blobEventsQueue: names.DPQ_BLOB_EVENTS_QUEUE
    deadLetterContainer: deadLetterContainer
  }
}

module worker 'modules/worker.bicep' = {
  name: 'worker'
  dependsOn: [ workerAccess, trainerAccess ]
  params: {
    name: 'ca-dpq-worker-${envName}'
    location: location
    tags: tags
    workerIdentityId: workerIdentity.outputs.id
    workerIdentityClientId: workerIdentity.outputs.clientId
    trainerIdentityId: trainerIdentity.outputs.id
    trainerIdentityClientId: trainerIdentity.outputs.clientId
    storageAccountName: storage.outputs.name
    logAnalyticsWorkspaceId: monitoring.outputs.workspaceId
    appInsightsConnectionString: monitoring.outputs.appInsightsConnectionString
    storageNames: names
    registryServer: registry.outputs.loginServer
    image: workerImage
    appExists: workerExists
    trainerImage: trainerImage
    trainerExists: trainerExists
    searchEndpoint: searchEndpoint
    searchIndexName: searchIndexName
    telemetrySamplingRatio: samplingRatio
  }
}

// The data account's endpoints: the identity-based connection called "DpqStorage" (each component
// signs in with its own identity, whose client id is below).
output DpqStorage__blobServiceUri string = storage.outputs.blobEndpoint
output DpqStorage__queueServiceUri string = storage.outputs.queueEndpoint
output DpqStorage__tableServiceUri string = storage.outputs.tableEndpoint
output AZURE_STORAGE_ACCOUNT_NAME string = storage.outputs.name
output AZURE_FUNCTION_APP_NAME string = queryApp.outputs.name
output AZURE_INTAKE_FUNCTION_APP_NAME string = intakeApp.outputs.name
output AZURE_EVENTGRID_SYSTEM_TOPIC string = events.outputs.name
output AZURE_WORKER_APP_NAME string = worker.outputs.name
output AZURE_TRAINER_JOB_NAME string = worker.outputs.trainerName
output AZURE_QUERY_IDENTITY_CLIENT_ID string = queryIdentity.outputs.clientId
output AZURE_INTAKE_IDENTITY_CLIENT_ID string = intakeIdentity.outputs.clientId
output AZURE_WORKER_IDENTITY_CLIENT_ID string = workerIdentity.outputs.clientId
output AZURE_TRAINER_IDENTITY_CLIENT_ID string = trainerIdentity.outputs.clientId
output AZURE_RESOURCE_GROUP string = resourceGroup().name
// azd pushes the service images to this registry.
output AZURE_CONTAINER_REGISTRY_ENDPOINT string = registry.outputs.loginServer
output AZURE_CONTAINER_REGISTRY_NAME string = registry.outputs.name
output AZURE_CONTAINER_ENVIRONMENT_NAME string = worker.outputs.environmentName
output AZURE_SEARCH_ENDPOINT string = searchEndpoint
