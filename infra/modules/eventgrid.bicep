// Blob events from the storage account: the Event Grid system topic and what its own identity may
// do. Its two subscriptions are in eventgrid-subscription.bicep, deployed once the function code is
// (the BlobCreated webhook needs the intake app's "blobs_extension" system key, which exists only then;
// see docs/deploy.md):
// - blob-deleted: BlobDeleted events of the watched containers go to a storage queue, which the worker
//   turns into removal requests. The topic signs in with its identity, allowed here only to send
//   messages to that queue.
// - blob-upload-trigger: BlobCreated events to the intake app's blob trigger (Source = EventGrid).
// An event neither subscription can deliver is dead-lettered as a blob in the dead-letter container,
// written with the topic's identity, which may write that container only.

param name string
param location string
param tags object = {}
param storageAccountName string

@description('Queue the BlobDeleted events go to.')
param blobEventsQueue string

@description('Container of the data account where undeliverable events are kept.')
param deadLetterContainer string

resource account 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName

  resource queueService 'queueServices' existing = {
    name: 'default'

    resource blobEvents 'queues' existing = {
      name: blobEventsQueue
    }
  }

  resource blobService 'blobServices' existing = {
    name: 'default'

    resource deadLetters 'containers' existing = {
      name: deadLetterContainer
    }
  }
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
// Storage Blob Data Contributor: what dead-lettering to a container needs.
var blobDataContributor = 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'

resource topicSendsMessages 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(account::queueService::blobEvents.id, topic.id, queueMessageSender)
  scope: account::queueService::blobEvents
  properties: {
    principalId: topic.identity.principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', queueMessageSender)
  }
}

resource topicWritesDeadLetters 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(account::blobService::deadLetters.id, topic.id, blobDataContributor)
  scope: account::blobService::deadLetters
  properties: {
    principalId: topic.identity.principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', blobDataContributor)
  }
}

output name string = topic.name
