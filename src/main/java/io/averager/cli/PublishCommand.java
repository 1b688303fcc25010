package io.averager.cli;

import io.averager.ema.TensorSpec;
import io.averager.format.SafetensorsReader;
import io.averager.publish.SnapshotOptions;
import io.averager.publish.SnapshotPublisher;
import io.averager.publish.TensorSource;
import io.averager.wire.avro.SnapshotMode;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.regex.Pattern;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code averager publish}: sends a safetensors file as one snapshot. */
@Command(name = "publish", mixinStandardHelpOptions = true,
        description = "Publishes the tensors of a safetensors file as one snapshot of a run, in one transaction.")
final class PublishCommand implements Callable<Integer> {

    @Option(names = "--bootstrap-servers", required = true, paramLabel = "HOST:PORT", description = "The Kafka cluster to publish to.")
    String bootstrapServers;

    @Option(names = "--run", required = true, paramLabel = "RUN", description = "Run id (the record key).")
    String run;

    @Option(names = "--step", required = true, description = "Optimizer step of these weights; increasing per run.")
    long step;

    @Option(names = "--mode", defaultValue = "UPDATE", description = "UPDATE folds into the EMA; SET resets the EMA to these weights (default: ${DEFAULT-VALUE}).")
    SnapshotMode mode;

    @Option(names = "--end-of-run", description = "Last snapshot of the run: it is always checkpointed.")
    boolean endOfRun;

    @Option(names = "--checkpoint", description = "Checkpoint the EMA at this step, whatever the cadence (as when the trainer saves its own checkpoint here).")
    boolean checkpoint;

    @Option(names = "--copy", paramLabel = "REGEX", description = "Tensors whose EMA is their latest weights rather than an average"
            + " (re.search on the name, e.g. 'running_(mean|var)$'); repeatable. Integer tensors always are.")
    List<Pattern> copy = new ArrayList<>();

    @Option(names = "--grid", defaultValue = "1048576", description = "Chunk grid in elements (default: ${DEFAULT-VALUE}).")
    long grid;

    @Option(names = "--topic", defaultValue = "snapshots", description = "Snapshots topic (default: ${DEFAULT-VALUE}).")
    String topic;

    @Option(names = {"-X", "--producer"}, paramLabel = "KEY=VALUE", description = "A Kafka producer setting (security, say).")
    Map<String, String> producer = new HashMap<>();

    @Option(names = "--signing-key-file", paramLabel = "FILE", description = "A file holding the hex secret key of the run's"
            + " prefix (averager.snapshot.signing.keys): every record is signed with it.")
    Path signingKeyFile;

    @Parameters(paramLabel = "FILE.safetensors", description = "The weights to publish, a safetensors file (e.g. from safetensors.torch.save_file).")
    Path file;

    @Override
    public Integer call() throws IOException {
        Map<String, Object> props = new HashMap<>(producer);
        props.put("bootstrap.servers", bootstrapServers);
        byte[] signingKey = RequestOptions.signingKey(signingKeyFile);
        try (SafetensorsReader reader = SafetensorsReader.open(file);
             SnapshotPublisher publisher = new SnapshotPublisher(props, topic, grid, signingKey)) {
            List<TensorSource> tensors = new ArrayList<>();
            for (TensorSpec spec : reader.tensors()) {
                tensors.add(new TensorSource() {
                    @Override
                    public TensorSpec spec() {
                        return spec;
                    }

                    @Override
                    public ByteBuffer read(long elementOffset, int count) throws IOException {
                        return reader.read(spec.name(), elementOffset, count);
                    }
                });
            }
            List<String> copied = tensors.stream().map(t -> t.spec().name())
                    .filter(name -> copy.stream().anyMatch(p -> p.matcher(name).find())).toList();
            publisher.publish(run, step, new SnapshotOptions(mode, endOfRun, checkpoint, reader.metadata(), copied), tensors);
            System.out.printf("published run=%s step=%d: %d tensors from %s%n", run, step, tensors.size(), file);
        }
        return 0;
    }
}
