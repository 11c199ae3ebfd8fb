/**
 * AWS Signature Version 4 for HTTP services that authenticate with it instead of a token: the Iceberg
 * REST endpoints of AWS Glue (signing name `glue`) and S3 Tables (`s3tables`). Credentials come from
 * the AWS default chain (environment, web identity as EKS pods get it, profiles, the instance's role)
 * and are refreshed by it; only the signature leaves the process, to the service it was made for.
 */
import { createHash, createHmac, type Hash, type Hmac } from 'node:crypto';
import { defaultProvider } from '@aws-sdk/credential-provider-node';
import { SignatureV4 } from '@smithy/signature-v4';

type SourceData = string | ArrayBuffer | ArrayBufferView;

const bytes = (data: SourceData): Buffer =>
  typeof data === 'string'
    ? Buffer.from(data, 'utf8')
    : ArrayBuffer.isView(data)
      ? Buffer.from(data.buffer, data.byteOffset, data.byteLength)
      : Buffer.from(data);

/** SHA-256 and HMAC-SHA256 from node:crypto, in the shape the signer asks for. */
class Sha256 {
  private hash: Hash | Hmac;

  constructor(private readonly secret?: SourceData) {
    this.hash = this.fresh();
  }

  private fresh(): Hash | Hmac {
    return this.secret === undefined ? createHash('sha256') : createHmac('sha256', bytes(this.secret));
  }

  update(data: SourceData): void {
    this.hash.update(bytes(data));
  }

  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.hash.digest());
  }

  reset(): void {
    this.hash = this.fresh();
  }
}

export interface SigV4Settings {
  /** The service's signing name: glue, s3tables. */
  service: string;
  region: string;
}

/** Signs requests for one service and region; returns the headers to send, the signature's among them. */
export function sigV4Signer(
  settings: SigV4Settings,
): (request: { method: string; url: string; headers: Record<string, string>; body?: string }) => Promise<Record<string, string>> {
  const signer = new SignatureV4({ service: settings.service, region: settings.region, credentials: defaultProvider(), sha256: Sha256, applyChecksum: true });
  return async ({ method, url, headers, body }) => {
    const u = new URL(url);
    const signed = await signer.sign({
      method,
      protocol: u.protocol,
      hostname: u.hostname,
      ...(u.port ? { port: Number(u.port) } : {}),
      path: u.pathname,
      query: Object.fromEntries(u.searchParams),
      // The host is signed: the signature is good for this service only.
      headers: { ...headers, host: u.host },
      ...(body !== undefined ? { body } : {}),
    });
    // fetch sets the host itself.
    const { host: _host, ...out } = signed.headers as Record<string, string>;
    return out;
  };
}
