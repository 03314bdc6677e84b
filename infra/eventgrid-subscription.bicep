// The blob events the deployment acts on, the only definition of both Event Grid subscriptions on the
// system topic main.bicep makes (modules/eventgrid.bicep):
// - blob-upload-trigger: BlobCreated events in the images container to the intake app's blob trigger.
//   Its webhook carries the "blobs_extension" system key, which exists only once the function code is
//   deployed, so this template is deployed after the code: by azd's postdeploy hook
//   (scripts/azd-postdeploy.sh), or by hand (docs/deploy.md, step 3).
// - blob-deleted: BlobDeleted events in the images and imports containers to the blob-events queue,
//   delivered with the topic's own identity, which main.bicep allowed to send to that queue only.
// An event that cannot be delivered is dead-lettered to a container of the data account (the topic's
// source) with the topic's identity, which main.bicep allowed to write that container.
// The defaults are main.bicep's names.
targetScope = 'resourceGroup'

param systemTopicName string

@description('The intake Function App (output AZURE_INTAKE_FUNCTION_APP_NAME), which runs the blob trigger.')
param intakeAppName string

param imagesContainer string = 'images'

@description('Containers whose deletes take images out of the index.')
param watchedContainers array = [ 'images', 'imports' ]

@description('Queue the BlobDeleted events go to.')
param blobEventsQueue string = 'blob-events'

@description('Container of the data account where undeliverable events are kept.')
param deadLetterContainer string = 'eventgrid-deadletter'

resource topic 'Microsoft.EventGrid/systemTopics@2024-06-01-preview' existing = {
  name: systemTopicName
}

resource app 'Microsoft.Web/sites@2024-04-01' existing = {
  name: intakeAppName
}

var blobsKey = listKeys('${app.id}/host/default', '2024-04-01').systemKeys.blobs_extension

// Both subscriptions retry for a day, then dead-letter.
var retryPolicy = { maxDeliveryAttempts: 30, eventTimeToLiveInMinutes: 1440 }
var deadLetters = {
  identity: { type: 'SystemAssigned' }
  deadLetterDestination: {
    endpointType: 'StorageBlob'
    properties: {
      resourceId: topic.properties.source
      blobContainerName: deadLetterContainer
    }
  }
}

resource uploads 'Microsoft.EventGrid/systemTopics/eventSubscriptions@2024-06-01-preview' = {
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
    retryPolicy: retryPolicy
    deadLetterWithResourceIdentity: deadLetters
  }
}

resource deletes 'Microsoft.EventGrid/systemTopics/eventSubscriptions@2024-06-01-preview' = {
  parent: topic
  name: 'blob-deleted'
  properties: {
    deliveryWithResourceIdentity: {
      identity: { type: 'SystemAssigned' }
      destination: {
        endpointType: 'StorageQueue'
        properties: {
          resourceId: topic.properties.source
          queueName: blobEventsQueue
          queueMessageTimeToLiveInSeconds: 604800
        }
      }
    }
    eventDeliverySchema: 'EventGridSchema'
    filter: {
      includedEventTypes: [ 'Microsoft.Storage.BlobDeleted' ]
      advancedFilters: [
        {
          operatorType: 'StringBeginsWith'
          key: 'subject'
          values: [for c in watchedContainers: '/blobServices/default/containers/${c}/']
        }
      ]
    }
    retryPolicy: retryPolicy
    deadLetterWithResourceIdentity: deadLetters
  }
}
