/**
 * SASL for every Kafka client, from configuration: PLAIN and SCRAM with a user and password;
 * OAUTHBEARER with tokens from an OIDC provider's client-credentials grant; AWS MSK IAM with
 * tokens from AWS's own signer (aws-msk-iam-sasl-signer-js) over the AWS default credential chain.
 * Tokens are cached until shortly before they expire (auth/oauth2.ts), since KafkaJS asks on every connection.
 */

import { generateAuthToken } from 'aws-msk-iam-sasl-signer-js';
import kafkajs, { type SASLOptions } from 'kafkajs';
import { type BearerToken, cachedTokens, clientCredentialsToken, TokenEndpointError } from '../auth/oauth2.js';
import type { SaslConfig } from '../config.js';

// KafkaJS is CommonJS: its error classes are on the default export.
const { KafkaJSError } = kafkajs;
// Its typings declare no constructor arguments; at run time it takes the message as every KafkaJS error does.
const KafkaJSSASLAuthenticationError = kafkajs.KafkaJSSASLAuthenticationError as unknown as new (message: string) => Error;

/** A client-credentials token for OAUTHBEARER, its failure as the KafkaJS error that says what to check. */
async function oauthBearerToken(sasl: { tokenUrl: string; clientId: string; clientSecret: string; scope?: string }): Promise<BearerToken> {
  try {
    return await clientCredentialsToken({ ...sasl, clientAuth: 'basic' });
  } catch (err) {
    if (!(err instanceof TokenEndpointError)) throw err;
    // A refusal is final: retrying the same credentials cannot help, so the process says which settings to check.
    if (err.refused)
      throw new KafkaJSSASLAuthenticationError(
        `${err.message.replace(/^the token endpoint \S+/, 'the OIDC token endpoint')}: check KAFKA_SASL_OAUTHBEARER_CLIENT_ID, KAFKA_SASL_OAUTHBEARER_CLIENT_SECRET and KAFKA_SASL_OAUTHBEARER_SCOPE`,
      );
    throw new KafkaJSError(`${err.message} (KAFKA_SASL_OAUTHBEARER_TOKEN_URL)`, { retriable: true });
  }
}

/** An MSK IAM token: a SigV4-presigned kafka-cluster:Connect URL, signed with the AWS default credential chain. */
export async function mskIamToken(region: string): Promise<BearerToken> {
  const { token, expiryTime } = await generateAuthToken({ region });
  return { value: token, expiresAt: expiryTime };
}

export function saslOptions(sasl: SaslConfig): SASLOptions {
  switch (sasl.mechanism) {
    case 'oauthbearer':
      return { mechanism: 'oauthbearer', oauthBearerProvider: cachedTokens(() => oauthBearerToken(sasl)) };
    case 'aws-msk-iam':
      // MSK IAM is OAUTHBEARER on the wire, with the signer's token as the bearer token.
      return { mechanism: 'oauthbearer', oauthBearerProvider: cachedTokens(() => mskIamToken(sasl.region)) };
    default:
      return sasl;
  }
}
