/**
 * The checkpoint sink: a read-committed consumer of the checkpoints topic that assembles each
 * checkpoint into a file by position, stores it in an object store, then publishes its manifest
 * and commits its offsets in one transaction. Object keys are deterministic, so a redo after a
 * crash overwrites and never duplicates.
 */
package io.averager.sink;
