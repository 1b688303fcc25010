/**
 * Replay: recomputes runs' EMAs with new decay schedules from the retained snapshots history,
 * through the same topology and sink as the live service, under an application id of its own.
 */
package io.averager.replay;
