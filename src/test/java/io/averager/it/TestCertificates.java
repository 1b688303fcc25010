package io.averager.it;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;

/**
 * A certificate authority and certificates it issued, made by the JDK's keytool (PKCS12) and
 * turned into PEM by openssl, as an operator would: the server's for localhost and 127.0.0.1,
 * clients' by common name, and a second authority nobody trusts.
 */
final class TestCertificates {

    static final String PASSWORD = "changeit";
    private static final Path KEYTOOL = Path.of(System.getProperty("java.home"), "bin", "keytool");

    private final Path dir;

    private TestCertificates(Path dir) {
        this.dir = dir;
    }

    /** Makes the authority {@code ca} (ca.p12, ca.pem) in {@code dir}. */
    static TestCertificates authority(Path dir, String ca) throws Exception {
        TestCertificates c = new TestCertificates(dir);
        c.keytool("-genkeypair", "-alias", ca, "-keyalg", "EC", "-groupname", "secp256r1", "-dname", "CN=" + ca,
                "-ext", "bc:c", "-validity", "3", "-keystore", c.p12(ca));
        c.keytool("-exportcert", "-rfc", "-alias", ca, "-keystore", c.p12(ca), "-file", dir.resolve(ca + ".pem").toString());
        return c;
    }

    /**
     * A key and certificate of {@code name} issued by {@code ca}: {@code name}.p12 with the chain,
     * and {@code name}.pem with the unencrypted PKCS#8 key and the chain.
     */
    Path issue(String ca, String name, String san) throws Exception {
        keytool("-genkeypair", "-alias", name, "-keyalg", "EC", "-groupname", "secp256r1", "-dname", "CN=" + name,
                "-validity", "3", "-keystore", p12(name));
        Path csr = dir.resolve(name + ".csr");
        Path pem = dir.resolve(name + ".crt");
        keytool("-certreq", "-alias", name, "-keystore", p12(name), "-file", csr.toString());
        List<String> gencert = new ArrayList<>(List.of("-gencert", "-rfc", "-alias", ca, "-keystore", p12(ca),
                "-infile", csr.toString(), "-outfile", pem.toString(), "-validity", "3"));
        if (san != null) {
            gencert.addAll(List.of("-ext", "SAN=" + san));
        }
        keytool(gencert.toArray(new String[0]));
        keytool("-importcert", "-noprompt", "-alias", ca, "-keystore", p12(name), "-file", dir.resolve(ca + ".pem").toString());
        keytool("-importcert", "-alias", name, "-keystore", p12(name), "-file", pem.toString());
        Path combined = dir.resolve(name + ".pem");
        run(List.of("openssl", "pkcs12", "-in", p12(name), "-passin", "pass:" + PASSWORD, "-nodes", "-out",
                combined.toString()));
        return combined;
    }

    Path pem(String name) {
        return dir.resolve(name + ".pem");
    }

    Path pkcs12(String name) {
        return dir.resolve(name + ".p12");
    }

    /** A client context trusting {@code ca}, presenting {@code client}'s certificate unless null. */
    SSLContext context(String ca, String client) throws Exception {
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(load(ca));
        KeyManagerFactory kmf = null;
        if (client != null) {
            kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
            kmf.init(load(client), PASSWORD.toCharArray());
        }
        SSLContext context = SSLContext.getInstance("TLS");
        context.init(kmf == null ? null : kmf.getKeyManagers(), tmf.getTrustManagers(), null);
        return context;
    }

    private KeyStore load(String name) throws Exception {
        KeyStore store = KeyStore.getInstance("PKCS12");
        try (InputStream in = Files.newInputStream(pkcs12(name))) {
            store.load(in, PASSWORD.toCharArray());
        }
        return store;
    }

    private String p12(String name) {
        return pkcs12(name).toString();
    }

    private void keytool(String... args) throws Exception {
        List<String> command = new ArrayList<>(List.of(KEYTOOL.toString()));
        command.addAll(List.of(args));
        command.addAll(List.of("-storetype", "PKCS12", "-storepass", PASSWORD));
        run(command);
    }

    private void run(List<String> command) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        byte[] out = p.getInputStream().readAllBytes();
        if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
            throw new IOException(String.join(" ", command) + " failed: " + new String(out));
        }
    }
}
