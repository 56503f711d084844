export { applyLayer, applyLayerWithSplit, type AppliedLayer, type ApplyOptions } from './apply.js';
export { layerTar, packLayer, type PackOptions } from './pack.js';
export { createLayerGzip, type GzipStats } from './gzip.js';
export { decompress, detectCompression, type Compression } from './compression.js';
export { extractInRoot, packInRoot, type ExtractOptions } from './copy.js';
export { TarSplitter, type TarSplit, assembleTar, decodeTarSplit, encodeTarSplit } from './tarsplit.js';
