// Subscribes the intake app's blob trigger to blob-created events in the images container.
// Deployed after the code, when the "blobs_extension" system key exists. An event that cannot be
// delivered is dead-lettered to a container of the data account (the topic's source) with the topic's
// own identity, which main.bicep allowed to write that container.
targetScope = 'resourceGroup'

param systemTopicName string

@description('The intake Function App (output AZURE_INTAKE_FUNCTION_APP_NAME), which runs the blob trigger.')
param intakeAppName string

param imagesContainer string = 'images'

@description('Container of the data account where undeliverable events are kept.')
param deadLetterContainer string = 'eventgrid-deadletter'

resource topic 'Microsoft.EventGrid/systemTopics@2024-06-01-preview' existing = {
  name: systemTopicName
}

resource app 'Microsoft.Web/sites@2024-04-01' existing = {
  name: intakeAppName
}

var blobsKey = listKeys('${app.id}/host/default', '2024-04-01').systemKeys.blobs_extension

resource subscription 'Microsoft.EventGrid/systemTopics/eventSubscriptions@2024-06-01-preview' = {
  parent: topic
  name: 'blob-upload-trigger'
  properties: {
    destination: {
      endpointType: 'WebHook'
      properties: {
        endpointUrl: 'https://${app.properties.defaultHostName}/runtime/webhooks/blobs?functionName=Host.Functions.BlobUploadTrigger&code=${blobsKey}'
      }
    }
    filter: {
      includedEventTypes: [ 'Microsoft.Storage.BlobCreated' ]
      subjectBeginsWith: '/blobServices/default/containers/${imagesContainer}/'
    }
    retryPolicy: { maxDeliveryAttempts: 30, eventTimeToLiveInMinutes: 1440 }
    deadLetterWithResourceIdentity: {
      identity: { type: 'SystemAssigned' }
      deadLetterDestination: {
        endpointType: 'StorageBlob'
        properties: {
          resourceId: topic.properties.source
          blobContainerName: deadLetterContainer
        }
      }
    }
  }
}
