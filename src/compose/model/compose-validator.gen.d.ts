// Types of the generated validator (scripts/gen-compose-validator.mjs).
import type { ValidateFunction } from 'ajv';
export declare const validate: ValidateFunction;
export default validate;
