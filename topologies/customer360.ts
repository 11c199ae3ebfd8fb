/**
 * The Customer 360 topology: one source per system family, each with its Avro entity, natural key,
 * dedup and near-duplicate settings, and field-quality rules. Adding a source is a schema in
 * avro/ plus an entry here.
 */
import { defineTopology } from '../src/contracts/topology-definition.js';

export default defineTopology({
  name: 'customer360',
  namespace: 'c360',
  dedupWindowDays: 30,
  stages: ['decode', 'quality', 'suppress', 'dedup', 'near_duplicates', 'encrypt'],
  sources: [
    {
      name: 'crm',
      description: 'CRM & loyalty profiles',
      entity: 'CustomerProfile',
      privacy: { subject: ['customer_id'] },
      key: 'customer_id',
      nearDuplicates: {
        identityField: 'customer_id',
        email: 'email',
        phone: 'phone',
        lastName: 'last_name',
        firstName: 'first_name',
        postalCode: 'address.postal_code',
        birthDate: 'birth_date',
        address: 'address.line1',
        loyaltyId: 'loyalty_id',
      },
      quality: [
        { field: 'email', rule: 'email' },
        { field: 'address.country', rule: 'country' },
        { field: 'phone', rule: 'phone', options: { countryField: 'address.country' } },
        { field: 'address.region', rule: 'region', options: { countryField: 'address.country' } },
        { field: 'address.postal_code', rule: 'postal_code', options: { countryField: 'address.country' } },
        { field: 'birth_date', rule: 'timestamp', options: { unit: 'days', maxFutureSkewMs: 0, notBefore: '1900-01-01' } },
        { field: 'updated_at', rule: 'timestamp' },
      ],
    },
    {
      name: 'web',
      description: 'Web & mobile events, sessions, device ids',
      entity: 'BehavioralEvent',
      privacy: { subject: ['customer_id', 'email', 'device.device_id', 'anonymous_id'] },
      key: 'event_id',
      // A tracking SDK resends a batch whose answer it lost: the collector stamps or corrects its time anew.
      dedup: { eventIdField: 'event_id', ignoreFields: ['occurred_at'] },
      nearDuplicates: { identityField: 'customer_id', email: 'email', deviceId: 'device.device_id' },
      quality: [
        { field: 'occurred_at', rule: 'timestamp' },
        { field: 'email', rule: 'email' },
        { field: 'device.device_id', rule: 'device_id', options: { typeField: 'device.id_type' } },
        { field: 'geo.latitude', rule: 'latitude' },
        { field: 'geo.longitude', rule: 'longitude' },
        { field: 'geo.country', rule: 'country' },
        { field: 'geo.region', rule: 'region', options: { countryField: 'geo.country' }, severity: 'warn' },
      ],
    },
    {
      name: 'marketing',
      description: 'Email, SMS and push engagement with campaign metadata',
      entity: 'MarketingEvent',
      privacy: { subject: ['customer_id', 'email', 'phone'] },
      key: 'event_id',
      dedup: { eventIdField: 'event_id' },
      quality: [
        { field: 'occurred_at', rule: 'timestamp' },
        { field: 'email', rule: 'email' },
        { field: 'phone', rule: 'phone' },
      ],
    },
    {
      name: 'commerce',
      description: 'POS / e-commerce transactions, carts and products',
      entity: 'Transaction',
      privacy: { subject: ['customer_id', 'email'] },
      key: 'transaction_id',
      nearDuplicates: { identityField: 'customer_id', email: 'email' },
      quality: [
        { field: 'occurred_at', rule: 'timestamp' },
        { field: 'email', rule: 'email' },
        { field: 'currency', rule: 'currency' },
        { field: 'total_amount', rule: 'amount' },
        { field: 'line_items[].unit_price', rule: 'amount' },
      ],
      // The catalogue comes from the same shop system; JSON records say so with a c360.entity header.
      entities: [
        {
          entity: 'Product',
          key: 'product_id',
          quality: [
            { field: 'currency', rule: 'currency' },
            { field: 'price', rule: 'amount' },
            { field: 'updated_at', rule: 'timestamp' },
          ],
        },
      ],
    },
    {
      name: 'support',
      description: 'Tickets, chat logs, voice transcripts',
      entity: 'SupportInteraction',
      privacy: { subject: ['customer_id', 'email', 'phone'] },
      key: 'interaction_id',
      nearDuplicates: { identityField: 'customer_id', email: 'email', phone: 'phone' },
      quality: [
        { field: 'opened_at', rule: 'timestamp' },
        { field: 'closed_at', rule: 'timestamp' },
        { field: 'email', rule: 'email' },
        { field: 'country', rule: 'country' },
        { field: 'phone', rule: 'phone', options: { countryField: 'country' } },
      ],
    },
    {
      name: 'enrichment',
      description: 'Third-party demographic and behavioural data',
      entity: 'EnrichmentRecord',
      privacy: { subject: ['email', 'phone', 'record_id'] },
      key: 'record_id',
      nearDuplicates: { identityField: 'record_id', email: 'email', phone: 'phone', lastName: 'last_name', firstName: 'first_name', postalCode: 'postal_code' },
      quality: [
        { field: 'email', rule: 'email' },
        { field: 'country', rule: 'country' },
        { field: 'phone', rule: 'phone', options: { countryField: 'country' } },
        { field: 'postal_code', rule: 'postal_code', options: { countryField: 'country' } },
        { field: 'updated_at', rule: 'timestamp' },
      ],
    },
  ],
});
