/**
 * Pinned versions of the local stack. Kafka 4.1.1: KafkaJS 2.2.4 works against it, transactions
 * included (see docs/compatibility.md). Apicurio Registry 3.0.9: the newest 3.x whose `all`
 * assembly runs on Java 17 (3.1+ is compiled for Java 21).
 */
export const KAFKA_VERSION = '4.1.1';
export const APICURIO_VERSION = '3.0.9';

export const KAFKA_PORT = 9092;
export const KAFKA_CONTROLLER_PORT = 9093;
/** The broker's TLS listener (server certificate only) and its mutual-TLS listener (client certificate required). */
export const KAFKA_TLS_PORT = 9094;
export const KAFKA_MTLS_PORT = 9095;
/** SASL over TLS (SASL_SSL), the way managed clusters are reached: SCRAM-SHA-256/512 and OAUTHBEARER (Kafka's unsecured-JWS validator, for testing). */
export const KAFKA_SASL_PORT = 9096;
/** The SCRAM user `stack up` creates on the local broker (loopback only; never a production credential). */
export const KAFKA_SCRAM_USER = 'c360';
export const KAFKA_SCRAM_PASSWORD = 'c360-local-scram';
/** The three-broker cluster (`stack up --brokers 3`): client ports 19092–19094, controller ports 19192–19194, beside the single broker. */
export const CLUSTER_SIZE = 3;
export const CLUSTER_KAFKA_PORT = 19092;
export const CLUSTER_CONTROLLER_PORT = 19192;
export const REGISTRY_PORT = 8081;
export const REDIS_PORT = 6379;
export const LOOPBACK = '127.0.0.1';

/** Adobe S3Mock 4.12.x: the newest line that runs on Java 17 (5.x needs a newer Java); it honours `If-None-Match: *`. */
export const S3MOCK_VERSION = '4.12.4';
export const S3_PORT = 9090;
/** The bucket the local S3 starts with; `C360_STORAGE_URL=s3://c360-raw` with `C360_S3_ENDPOINT=http://127.0.0.1:9090`. */
export const S3_BUCKET = 'c360-raw';
/** The SFTP drop (`stack up --sftp`): Debian's OpenSSH server on loopback, one chrooted SFTP-only user. */
export const SFTP_PORT = 2222;
export const SFTP_USER = 'c360-sftp';
/**
 * Apache Iceberg 1.10.0: its reference REST catalog server runs on Java 17 (Jetty 11); the tests read
 * tables back with the same version's Java reader.
 */
export const ICEBERG_VERSION = '1.10.0';
export const CATALOG_PORT = 8181;
/** Where the local catalog puts its tables: a prefix of the local S3's bucket. */
export const WAREHOUSE_URL = `s3://${S3_BUCKET}/warehouse`;
