/** Every built-in field-quality rule, semantic and declarative, by the name topologies use. */
import { ComponentRegistry } from '../../../registry.js';
import type { QualityRule } from '../rule.js';
import { amountRule } from './amount.js';
import { latitudeRule, longitudeRule } from './coordinates.js';
import { countryRule } from './country.js';
import { currencyRule } from './currency.js';
import { compareRule, lengthRule, notNullRule, oneOfRule, patternRule, rangeRule, referenceListRule } from './declarative.js';
import { deviceIdRule } from './device-id.js';
import { emailRule } from './email.js';
import { phoneRule } from './phone.js';
import { postalCodeRule } from './postal-code.js';
import { regionRule } from './region.js';
import { timestampRule } from './timestamp.js';

export const RULES = new ComponentRegistry<QualityRule>('quality rule').register(
  ...[
    emailRule,
    phoneRule,
    countryRule,
    regionRule,
    postalCodeRule,
    latitudeRule,
    longitudeRule,
    deviceIdRule,
    timestampRule,
    currencyRule,
    amountRule,
    notNullRule,
    patternRule,
    oneOfRule,
    rangeRule,
    lengthRule,
    compareRule,
    referenceListRule,
  ].map((r) => r as unknown as QualityRule),
);
