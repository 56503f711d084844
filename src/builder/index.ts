// The builder's front end and file handling: what a Dockerfile says (parsing, variable expansion, each
// instruction's effect on a stage's state) and the files it reads (the context, COPY/ADD sources). Running the
// steps (containers, commits, the cache) is services/build's.
export { type Dockerfile, type Heredoc, type Instruction, type Stage, expandBase, heredocBody, metaArgValues, parseDockerfile, stageRef, stagesFor } from './dockerfile.js';
export { processWord, processWords } from './expand.js';
export { type StageState, type Step, applyChange, copyCreatedBy, evaluate, initialState, varsOf } from './instructions.js';
export { type BuildContext, openContext } from './context.js';
export { ContextCache, type ContextListing } from './context-cache.js';
export { type Source, copyIntoRoot, fetchUrl, hashSources, resolveChown, resolveSources, sourceKind } from './copy.js';
