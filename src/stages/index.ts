/** The stages, registered by the names topologies use, in the order a topology may list them. */
import { ComponentRegistry } from '../registry.js';
import { decodeStage } from './decode.js';
import { dedupStage } from './dedup.js';
import { nearDuplicateStage } from './near-duplicates.js';
import { encryptStage, suppressStage } from './privacy.js';
import { qualityStage } from './quality.js';
import type { StageSpec } from './stage.js';

export const STAGES = new ComponentRegistry<StageSpec>('stage').register(
  decodeStage,
  qualityStage,
  suppressStage,
  dedupStage,
  nearDuplicateStage,
  encryptStage,
);
