// One Function App on Flex Consumption (its own FC1 plan). main.bicep makes two from the same
// package: the query app (HTTP query and index status) and the intake app (blob trigger with the
// Event Grid source, the intake poison handler, the reconcile and retraining timers, the admin retrain
// route); each disables the other's functions. Every connection is identity-based through the app's
// own user-assigned identity; no keys. DpqStorage is the data account; AzureWebJobsStorage and the
// deployment package are in the app's own host account, which no other component can reach.

param name string
param location string
param tags object = {}
param identityId string
param identityClientId string

@description('The data account: the DpqStorage connection.')
param storageAccountName string

@description('The app\'s own host account: AzureWebJobsStorage and the deployment package (container "deployments").')
param hostStorageAccountName string

param appInsightsConnectionString string

@description('Value of the azd-service-name tag.')
param serviceName string

@description('Functions in the package this app does not run (AzureWebJobs.<name>.Disabled = true).')
param disabledFunctions array = []

@description('Resource names and schedules the functions read as %SETTING%.')
param appSettings object

@description('Endpoint of the search catalog; empty: the app has no part in it.')
param searchEndpoint string = ''

@description('Name of the catalog\'s index.')
param searchIndexName string = ''

@minValue(40)
@maxValue(1000)
param maximumInstanceCount int = 100

@allowed([ 2048, 4096 ])
param instanceMemoryMB int = 2048

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource hostStorage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: hostStorageAccountName
}

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: 'plan-${name}'
  location: location
  tags: tags
  kind: 'functionapp'
  sku: { tier: 'FlexConsumption', name: 'FC1' }
  properties: { reserved: true }
}

var connectionSettings = {
  // The trigger connection and our own clients share this one identity-based connection.
  DpqStorage__blobServiceUri: storage.properties.primaryEndpoints.blob
  DpqStorage__queueServiceUri: storage.properties.primaryEndpoints.queue
  DpqStorage__tableServiceUri: storage.properties.primaryEndpoints.table
  DpqStorage__credential: 'managedidentity'
  DpqStorage__clientId: identityClientId
  AzureWebJobsStorage__accountName: hostStorage.name
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__clientId: identityClientId
  APPLICATIONINSIGHTS_CONNECTION_STRING: appInsightsConnectionString
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identityClientId};Authorization=AAD'
}

// The search catalog as the app's identity, like DpqStorage, when there is one.
var searchSettings = empty(searchEndpoint) ? {} : {
  DpqSearch__endpoint: searchEndpoint
  DpqSearch__indexName: searchIndexName
  DpqSearch__clientId: identityClientId
}

var disabled = toObject(disabledFunctions, f => 'AzureWebJobs.${f}.Disabled', f => 'true')

resource app 'Microsoft.Web/sites@2024-04-01' = {
  name: name
  location: location
  tags: union(tags, { 'azd-service-name': serviceName })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: { '${identityId}': {} }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${hostStorage.properties.primaryEndpoints.blob}deployments'
          authentication: { type: 'UserAssignedIdentity', userAssignedIdentityResourceId: identityId }
        }
      }
      scaleAndConcurrency: { maximumInstanceCount: maximumInstanceCount, instanceMemoryMB: instanceMemoryMB }
      runtime: { name: 'dotnet-isolated', version: '10.0' }
    }
    siteConfig: {
      minTlsVersion: '1.2'
    }
  }

  resource settings 'config' = {
    name: 'appsettings'
    properties: union(connectionSettings, appSettings, searchSettings, disabled)
  }
}

output name string = app.name
output defaultHostName string = app.properties.defaultHostName
