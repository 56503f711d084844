/**
 * The distribution spec's error vocabulary: a code, the HTTP status it travels with, and the JSON body shape
 * `{"errors":[{code,message,detail}]}`. Handlers throw `RegistryError`; only the router turns it into a response.
 */
export type RegistryErrorCode =
  | 'BLOB_UNKNOWN'
  | 'BLOB_UPLOAD_INVALID'
  | 'BLOB_UPLOAD_UNKNOWN'
  | 'DIGEST_INVALID'
  | 'MANIFEST_BLOB_UNKNOWN'
  | 'MANIFEST_INVALID'
  | 'MANIFEST_UNKNOWN'
  | 'NAME_INVALID'
  | 'NAME_UNKNOWN'
  | 'SIZE_INVALID'
  | 'UNAUTHORIZED'
  | 'DENIED'
  | 'UNSUPPORTED'
  | 'TOOMANYREQUESTS'
  // Not in the OCI table, but what distribution answers for a bad `n` (clients only look at the status).
  | 'PAGINATION_NUMBER_INVALID'
  | 'UNKNOWN';

/** Default status and message per code (distribution's registry/api/errcode descriptors). */
const defaults: Record<RegistryErrorCode, [number, string]> = {
  BLOB_UNKNOWN: [404, 'blob unknown to registry'],
  BLOB_UPLOAD_INVALID: [400, 'blob upload invalid'],
  BLOB_UPLOAD_UNKNOWN: [404, 'blob upload unknown to registry'],
  DIGEST_INVALID: [400, 'provided digest did not match uploaded content'],
  MANIFEST_BLOB_UNKNOWN: [400, 'blob unknown to registry'],
  MANIFEST_INVALID: [400, 'manifest invalid'],
  MANIFEST_UNKNOWN: [404, 'manifest unknown'],
  NAME_INVALID: [400, 'invalid repository name'],
  NAME_UNKNOWN: [404, 'repository name not known to registry'],
  SIZE_INVALID: [400, 'provided length did not match content length'],
  UNAUTHORIZED: [401, 'authentication required'],
  DENIED: [403, 'requested access to the resource is denied'],
  UNSUPPORTED: [405, 'The operation is unsupported.'],
  TOOMANYREQUESTS: [429, 'too many requests'],
  PAGINATION_NUMBER_INVALID: [400, 'invalid number of results requested'],
  UNKNOWN: [500, 'unknown error'],
};

export class RegistryError extends Error {
  readonly status: number;
  /** Response headers that go with the error (a 416 carries the upload's Location and Range). */
  headers: Record<string, string> = {};
  constructor(
    readonly code: RegistryErrorCode,
    message?: string,
    readonly detail: unknown = undefined,
    status?: number,
  ) {
    super(message ?? defaults[code][1]);
    this.name = 'RegistryError';
    this.status = status ?? defaults[code][0];
  }

  body(): string {
    return errorBody([this]);
  }
}

export function errorBody(errors: readonly RegistryError[]): string {
  return JSON.stringify({ errors: errors.map((e) => ({ code: e.code, message: e.message, detail: e.detail ?? null })) });
}

/** Several errors in one response (MANIFEST_BLOB_UNKNOWN names every missing blob, as distribution does). */
export class RegistryErrors extends Error {
  constructor(readonly errors: RegistryError[]) {
    super(errors.map((e) => e.message).join('; '));
    this.name = 'RegistryErrors';
  }
  get status(): number {
    return this.errors[0]?.status ?? 500;
  }
  body(): string {
    return errorBody(this.errors);
  }
}
