export * from './digest.js';
export * from './image.js';
export * from './reference.js';
