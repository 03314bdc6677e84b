// Blob events from the storage account: the Event Grid system topic. Two subscriptions use it:
// - blob-deleted (here): BlobDeleted events of the watched containers go to a storage queue, which
//   the worker turns into removal requests. The topic signs in with its own identity, allowed only to
//   send queue messages.
// - blob-upload-trigger (eventgrid-subscription.bicep): BlobCreated events to the Function App's blob
//   trigger (Source = EventGrid). It needs the "blobs_extension" system key, which exists only once
//   the code is deployed, so it is made after `azd deploy` (see docs/deploy.md).

param name string
param location string
param tags object = {}
param storageAccountName string

@description('Queue the BlobDeleted events go to.')
param blobEventsQueue string

@description('Containers whose deletes take images out of the index.')
param watchedContainers array

resource account 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource topic 'Microsoft.EventGrid/systemTopics@2024-06-01-preview' = {
  name: name
  location: location
  tags: tags
  identity: { type: 'SystemAssigned' }
  properties: {
    source: account.id
    topicType: 'Microsoft.Storage.StorageAccounts'
  }
}

// Storage Queue Data Message Sender: adds messages, reads none.
var queueMessageSender = 'c6a89b2d-59bc-44d0-9896-0f6e12d7b80a'

resource topicSendsMessages 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(account.id, topic.id, queueMessageSender)
  scope: account
  properties: {
    principalId: topic.identity.principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', queueMessageSender)
  }
}

resource deletes 'Microsoft.EventGrid/systemTopics/eventSubscriptions@2024-06-01-preview' = {
  parent: topic
  name: 'blob-deleted'
  dependsOn: [ topicSendsMessages ]
  properties: {
    deliveryWithResourceIdentity: {
      identity: { type: 'SystemAssigned' }
      destination: {
        endpointType: 'StorageQueue'
        properties: {
          resourceId: account.id
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
    retryPolicy: { maxDeliveryAttempts: 30, eventTimeToLiveInMinutes: 1440 }
  }
}

output name string = topic.name
