package io.averager.ops;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509TrustManager;

/**
 * The HTTP endpoint's TLS material: its key and certificate chain, and the certificate
 * authorities it trusts for client certificates and for other instances. Each is a PKCS12 file
 * ({@code .p12}, {@code .pfx}) or PEM: certificates as {@code BEGIN CERTIFICATE} blocks and the
 * key as an unencrypted PKCS#8 {@code BEGIN PRIVATE KEY} block (RSA or EC), in one file.
 */
final class Tls {

    private static final Pattern PEM = Pattern.compile("-----BEGIN ([A-Z0-9 ]+)-----([^-]*)-----END \\1-----");
    private static final char[] NO_PASSWORD = new char[0];

    private Tls() {
    }

    /** Key managers' context for serving with the key and chain of {@code keystore}. */
    static SSLContext serverContext(Path keystore, String password, X509TrustManager peers) {
        try {
            KeyStore keys = keyStore(keystore, password);
            KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
            kmf.init(keys, password == null ? NO_PASSWORD : password.toCharArray());
            SSLContext context = SSLContext.getInstance("TLS");
            // Client certificates are not checked in the handshake, where a failure would be a
            // dropped connection, but by the endpoint, which answers 401 and says why.
            context.init(kmf.getKeyManagers(), new TrustManager[] {new Trust(peers)}, null);
            return context;
        } catch (GeneralSecurityException | IOException e) {
            throw new IllegalArgumentException("Cannot serve TLS with " + keystore + ": " + e.getMessage(), e);
        }
    }

    /** A context for connecting to other instances, trusting {@code trusted}. */
    static SSLContext clientContext(X509TrustManager trusted) {
        try {
            SSLContext context = SSLContext.getInstance("TLS");
            context.init(null, new TrustManager[] {trusted}, null);
            return context;
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The trust manager of {@code truststore}'s certificates; the JDK's default CAs when null. */
    static X509TrustManager trustManager(Path truststore, String password) {
        try {
            TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
            tmf.init(truststore == null ? null : trustStore(truststore, password));
            for (TrustManager tm : tmf.getTrustManagers()) {
                if (tm instanceof X509TrustManager x) {
                    return x;
                }
            }
            throw new IllegalStateException("No X509 trust manager in " + tmf.getAlgorithm());
        } catch (GeneralSecurityException | IOException e) {
            throw new IllegalArgumentException("Cannot read the certificates to trust from " + truststore + ": "
                    + e.getMessage(), e);
        }
    }

    private static boolean pkcs12(Path file) {
        String name = file.getFileName().toString().toLowerCase(Locale.ROOT);
        return name.endsWith(".p12") || name.endsWith(".pfx");
    }

    private static KeyStore keyStore(Path file, String password) throws GeneralSecurityException, IOException {
        if (pkcs12(file)) {
            return loadPkcs12(file, password);
        }
        List<X509Certificate> certificates = new ArrayList<>();
        PrivateKey key = null;
        for (Block b : blocks(file)) {
            switch (b.type()) {
                case "CERTIFICATE" -> certificates.add(certificate(b.der()));
                case "PRIVATE KEY" -> key = privateKey(file, b.der());
                case "RSA PRIVATE KEY", "EC PRIVATE KEY", "ENCRYPTED PRIVATE KEY" -> throw new IllegalArgumentException(
                        file + " holds a " + b.type() + "; give an unencrypted PKCS#8 key (openssl pkcs8 -topk8 -nocrypt)"
                                + " or a PKCS12 file (.p12)");
                default -> {
                }
            }
        }
        if (key == null || certificates.isEmpty()) {
            throw new IllegalArgumentException(file + " holds " + (key == null ? "no PRIVATE KEY block" : "no CERTIFICATE block")
                    + "; a PEM keystore holds the key and the certificate chain");
        }
        KeyStore store = KeyStore.getInstance("PKCS12");
        store.load(null, null);
        store.setKeyEntry("averager", key, NO_PASSWORD, chain(certificates).toArray(new Certificate[0]));
        return store;
    }

    /**
     * The certificates as a chain, the server's first, whatever their order in the file (openssl
     * writes a PKCS12 file's in its own): the leaf is the one that issued none of the others.
     */
    private static List<X509Certificate> chain(List<X509Certificate> certificates) {
        X509Certificate leaf = certificates.stream().filter(c -> certificates.stream().noneMatch(d -> d != c
                && d.getIssuerX500Principal().equals(c.getSubjectX500Principal()))).findFirst().orElse(certificates.get(0));
        List<X509Certificate> chain = new ArrayList<>(List.of(leaf));
        X509Certificate at = leaf;
        while (chain.size() < certificates.size()) {
            X509Certificate current = at;
            X509Certificate issuer = certificates.stream().filter(c -> !chain.contains(c)
                    && c.getSubjectX500Principal().equals(current.getIssuerX500Principal())).findFirst().orElse(null);
            if (issuer == null) {
                break;
            }
            chain.add(issuer);
            at = issuer;
        }
        return chain;
    }

    private static KeyStore trustStore(Path file, String password) throws GeneralSecurityException, IOException {
        if (pkcs12(file)) {
            return loadPkcs12(file, password);
        }
        KeyStore store = KeyStore.getInstance("PKCS12");
        store.load(null, null);
        int n = 0;
        for (Block b : blocks(file)) {
            if (b.type().equals("CERTIFICATE")) {
                store.setCertificateEntry("ca-" + n++, certificate(b.der()));
            }
        }
        if (n == 0) {
            throw new IllegalArgumentException(file + " holds no CERTIFICATE block");
        }
        return store;
    }

    private static KeyStore loadPkcs12(Path file, String password) throws GeneralSecurityException, IOException {
        KeyStore store = KeyStore.getInstance("PKCS12");
        try (InputStream in = Files.newInputStream(file)) {
            store.load(in, password == null ? NO_PASSWORD : password.toCharArray());
        }
        return store;
    }

    private record Block(String type, byte[] der) {
    }

    private static List<Block> blocks(Path file) throws IOException {
        List<Block> blocks = new ArrayList<>();
        Matcher m = PEM.matcher(Files.readString(file, StandardCharsets.US_ASCII));
        while (m.find()) {
            blocks.add(new Block(m.group(1), Base64.getMimeDecoder().decode(m.group(2))));
        }
        if (blocks.isEmpty()) {
            throw new IllegalArgumentException(file + " is neither PEM (no -----BEGIN ...----- block) nor named .p12 or .pfx");
        }
        return blocks;
    }

    private static X509Certificate certificate(byte[] der) throws GeneralSecurityException {
        return (X509Certificate) CertificateFactory.getInstance("X.509").generateCertificate(new ByteArrayInputStream(der));
    }

    private static PrivateKey privateKey(Path file, byte[] der) throws GeneralSecurityException {
        for (String algorithm : List.of("RSA", "EC", "Ed25519")) {
            try {
                return KeyFactory.getInstance(algorithm).generatePrivate(new PKCS8EncodedKeySpec(der));
            } catch (GeneralSecurityException tryNext) {
                // the key is of another algorithm
            }
        }
        throw new IllegalArgumentException(file + ": the PRIVATE KEY is neither RSA, EC nor Ed25519");
    }

    /** Client certificates checked after the handshake, by the endpoint. */
    static final class Trust implements X509TrustManager {
        private final X509TrustManager peers;

        Trust(X509TrustManager peers) {
            this.peers = peers;
        }

        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType) {
            // checked by the endpoint: see Guard
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType) throws java.security.cert.CertificateException {
            peers.checkServerTrusted(chain, authType);
        }

        @Override
        public X509Certificate[] getAcceptedIssuers() {
            return peers.getAcceptedIssuers();
        }
    }
}
