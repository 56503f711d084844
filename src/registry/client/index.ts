// The registry client: what berthd needs to pull (and later push) images from any distribution registry.
export { RegistryClient, manifestAccept, type ClientOptions, type FetchedManifest } from './client.js';
export { type Credentials, parseChallenge } from './auth.js';
export { type Endpoint, type RegistryServiceConfig, pullEndpoints, registryServiceConfig, resolveEndpoint, validateMirror } from './endpoint.js';
export { chooseManifest, formatPlatform, hostPlatform, parsePlatform } from './platform.js';
export { hasBlob, mountBlob, putManifest, uploadBytes, uploadStream } from './upload.js';
export { checkLogin } from './login.js';
