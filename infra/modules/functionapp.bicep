// The Function App on Flex Consumption: blob trigger (Event Grid source), HTTP query, timers.
// Every connection is identity-based through the user-assigned managed identity; no keys.

param name string
param location string
param tags object = {}
param identityId string
param identityClientId string
param storageAccountName string
param appInsightsConnectionString string

@description('Resource names and schedules the functions read as %SETTING%.')
param appSettings object

@minValue(40)
@maxValue(1000)
param maximumInstanceCount int = 100

@allowed([ 2048, 4096 ])
param instanceMemoryMB int = 2048

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
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
  AzureWebJobsStorage__accountName: storage.name
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__clientId: identityClientId
  APPLICATIONINSIGHTS_CONNECTION_STRING: appInsightsConnectionString
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identityClientId};Authorization=AAD'
}

resource app 'Microsoft.Web/sites@2024-04-01' = {
  name: name
  location: location
  tags: union(tags, { 'azd-service-name': 'functions' })
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
          value: '${storage.properties.primaryEndpoints.blob}deployments'
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
    properties: union(connectionSettings, appSettings)
  }
}

output name string = app.name
output defaultHostName string = app.properties.defaultHostName
