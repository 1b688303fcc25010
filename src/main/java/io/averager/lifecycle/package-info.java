/**
 * The snapshot lifecycle of a run and the EMA rule of each entry, with no Kafka in it: given a
 * run's state and one snapshot record, {@link io.averager.lifecycle.SnapshotLifecycle} decides
 * what changes. The topology's apply processor reads the state, asks, writes and forwards.
 */
package io.averager.lifecycle;
