/** The stages, registered by the names topologies use. */
import { decodeStage } from './decode.js';
import { dedupStage } from './dedup.js';
import { nearDuplicateStage } from './near-duplicates.js';
import { qualityStage } from './quality.js';
import type { StageFactory } from './stage.js';

export const STAGES = {
  decode: decodeStage,
  quality: qualityStage,
  dedup: dedupStage,
  near_duplicates: nearDuplicateStage,
} satisfies Record<string, StageFactory>;

export type StageName = keyof typeof STAGES;
