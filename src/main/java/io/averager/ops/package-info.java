/**
 * The HTTP endpoint: Prometheus metrics, liveness and readiness, the runs API (runs, live EMA
 * download, distance history) over Kafka Streams' interactive queries with redirects to the
 * instance owning a run, post-hoc EMA synthesis from the stored checkpoints (any instance, through
 * {@code io.averager.posthoc}), and the status page. JDK HttpServer, Jackson for JSON; nothing
 * here changes state.
 */
package io.averager.ops;
