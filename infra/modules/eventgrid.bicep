// Blob-created events from the storage account: the Event Grid system topic that the Function
// App's blob trigger (Source = EventGrid) subscribes to. The subscription needs the Function App's
// "blobs_extension" system key, which exists only once the code is deployed: it is made by
// eventgrid-subscription.bicep after `azd deploy` (see docs/deploy.md).

param name string
param location string
param tags object = {}
param storageAccountId string

resource topic 'Microsoft.EventGrid/systemTopics@2024-06-01-preview' = {
  name: name
  location: location
  tags: tags
  properties: {
    source: storageAccountId
    topicType: 'Microsoft.Storage.StorageAccounts'
  }
}

output name string = topic.name
