export * from './digest.js';
export * from './hash.js';
export * from './image.js';
export * from './reference.js';
