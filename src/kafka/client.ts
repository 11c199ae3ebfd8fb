/** The one place KafkaJS clients are built from configuration, so SASL/SSL and logging apply everywhere. */
import { Kafka, type KafkaConfig } from 'kafkajs';
import type { Config } from '../config.js';
import { kafkaLevelFor, kafkaLogCreator, type Logger } from '../observability/logger.js';
import { saslOptions } from './sasl.js';

export function createKafka(config: Config, logger: Logger, clientIdSuffix?: string): Kafka {
  const { brokers, clientId, ssl, sasl } = config.kafka;
  const kafkaConfig: KafkaConfig = {
    brokers,
    clientId: clientIdSuffix ? `${clientId}-${clientIdSuffix}` : clientId,
    ssl,
    logLevel: kafkaLevelFor(logger.level),
    logCreator: kafkaLogCreator(logger.child({ component: 'kafkajs' })),
    retry: { initialRetryTime: 100, retries: 8 },
  };
  if (sasl) kafkaConfig.sasl = saslOptions(sasl);
  return new Kafka(kafkaConfig);
}
