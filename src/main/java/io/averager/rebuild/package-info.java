/**
 * Rebuilding a rewind to a step without a restore point: publishing the run's snapshots after the
 * nearest restore point again, on the topology's request, in one transaction.
 */
package io.averager.rebuild;
