/** The landing zone at a place: `s3://bucket/prefix` (an S3-compatible bucket) or a folder. */
import type { Config } from '../../config.js';
import { BucketLanding } from './bucket.js';
import { FolderLanding } from './folder.js';
import type { LandingStorage } from './storage.js';

export function openLanding(where: string, config: Config): LandingStorage {
  return where.startsWith('s3://') ? new BucketLanding(where, config) : new FolderLanding(where);
}
