package ai.lrdif.core

import org.junit.Assert.assertEquals
import org.junit.Assert.assertTrue
import org.junit.Assume.assumeTrue
import org.junit.Test
import java.io.ByteArrayOutputStream
import java.io.File
import java.util.zip.ZipEntry
import java.util.zip.ZipOutputStream

/**
 * Metadata of real artifacts (the shipped default model named by sdk/models/manifest.json; an
 * .onnx and a .tflite made by core-test.sh) and of broken files.
 */
class ArtifactMetadataTest {
    private val tflite = File(TestPaths.fixtures, "blazeface_with_lrdif_metadata.tflite")
    private val plainTflite = File(TestPaths.fixtures, "blazeface_plain.tflite")
    private val onnxFixture = File(TestPaths.fixtures, "lrdif_mobile.onnx")
    private val onnxExpected = File(TestPaths.fixtures, "lrdif_mobile.expected.json")

    private fun fixture(f: File): File {
        if (!f.isFile) {
            val msg = "fixture $f missing (core-test.sh makes it: the .tflite from the lrdif-setup face-model " +
                "cache, the .onnx with the onnx package)"
            if (TestPaths.requireFixtures) throw AssertionError(msg)
            assumeTrue(msg, false)
        }
        return f
    }

    private val onnx: File get() = fixture(onnxFixture)

    @Test fun shippedModel() {
        val f = TestPaths.shippedModel
        val md = ArtifactMetadata.read(f)
        val golden = Golden()
        assertEquals("tflite", ArtifactMetadata.detectFormat(f.readBytes()))
        assertEquals("tflite", md.target)
        assertEquals("lrdif-mobile", md.modelName)
        assertEquals(Labels.LABELS_8, md.labels)
        assertEquals(64, md.inputSize)
        assertEquals(CropSpec(size = 64, scale = 1.12, shiftY = -0.05), md.crop)
        assertEquals(golden.metadata.temperature, md.temperature, 0.0)
        assertEquals(TestPaths.manifest["model_version"], md.modelVersion)
        assertEquals(md, ArtifactMetadata.read(f.readBytes()))
        // the golden vectors were made with this model: same file, same metadata
        assertEquals("sdk/models/${f.name}", golden.modelFile)
        assertEquals(TestPaths.manifest["sha256"], golden.modelSha256)
        assertEquals(golden.metadata, md)
    }

    @Test fun onnxFixtureCarriesTheShippedMetadata() {
        val md = ArtifactMetadata.read(onnx)
        assertEquals(ModelMetadata.fromJson(fixture(onnxExpected).readText()), md)
        assertEquals("onnx", md.target)
        assertEquals("lrdif-mobile", md.modelName)
        assertEquals(Labels.LABELS_8, md.labels)
        assertEquals(md, ArtifactMetadata.read(onnx.readBytes()))
        assertEquals("onnx", ArtifactMetadata.detectFormat(onnx.readBytes()))
        // as the ONNX exporter writes it: target onnx, dynamic batch; the rest as shipped
        assertEquals(ArtifactMetadata.read(TestPaths.shippedModel).copy(target = "onnx", batch = 0), md)
    }

    @Test fun truncatedOnnx() {
        val data = onnx.readBytes()
        expectThrows<ModelFileException>("<bytes>: not a readable ONNX model (truncated message)") {
            ArtifactMetadata.read(data.copyOf(data.size / 2), "onnx")
        }
    }

    @Test fun onnxWithoutMetadata() {
        // ModelProto { ir_version: 8, graph: {} }: a valid protobuf without metadata_props
        val bytes = byteArrayOf(0x08, 0x08, 0x3a, 0x00)
        expectThrows<MetadataMissingException>("no 'lrdif_metadata' in the ONNX metadata_props: not an lrdif export") {
            ArtifactMetadata.read(bytes, "onnx")
        }
        expectThrows<ModelFileException>("no ONNX graph in the protobuf") { ArtifactMetadata.read(byteArrayOf(0x08, 0x08), "onnx") }
    }

    @Test fun tamperedOnnx() {
        val data = onnx.readBytes()
        val key = "\"input_layout\": \"NCHW\""
        val at = String(data, Charsets.ISO_8859_1).lastIndexOf(key)
        assertTrue("layout found in the ONNX metadata_props", at >= 0)
        val i = at + key.length - 5
        data[i + 3] = 'X'.code.toByte()
        expectThrows<MetadataException>("<bytes>: input_layout must be NCHW or NHWC, got 'NCHX'") { ArtifactMetadata.read(data, "onnx") }
    }

    @Test fun missingFileAndUnknownSuffix() {
        expectThrows<MetadataException>("no such model") { ArtifactMetadata.read(File("no/such/model.tflite")) }
        expectThrows<MetadataException>("unknown model format (expected one of .mlmodel, .mlpackage, .onnx, .pte, .tflite)") {
            ArtifactMetadata.read(File("model.bin"))
        }
    }

    @Test fun tfliteWithMetadata() {
        val f = fixture(tflite)
        val md = ArtifactMetadata.read(f)
        assertEquals("tflite", md.target)
        assertEquals(2.0, md.temperature, 0.0)
        assertEquals(fixture(plainTflite).length().toInt(), ArtifactMetadata.flatbufferLength(f.readBytes()))
    }

    @Test fun tfliteWithoutMetadata() {
        expectThrows<MetadataMissingException>("no appended 'metadata.json' holding 'lrdif_metadata': not an lrdif export") {
            ArtifactMetadata.read(fixture(plainTflite))
        }
    }

    @Test fun truncatedTflite() {
        val data = fixture(tflite).readBytes()
        expectThrows<ModelFileException>("the model file is truncated") { ArtifactMetadata.read(data.copyOf(data.size - 10)) }
        expectThrows<ModelFileException>("not a TFLite flatbuffer (no TFL3 identifier)") {
            ArtifactMetadata.read(data.copyOf(6), "tflite")
        }
    }

    @Test fun tamperedTfliteJson() {
        val data = fixture(tflite).readBytes()
        val i = String(data, Charsets.ISO_8859_1).lastIndexOf("NCHW")
        data[i] = 'X'.code.toByte()   // stored member: the CRC no longer matches
        expectThrows<ModelFileException>("malformed metadata.json (BadZipFile: Bad CRC-32 for file 'metadata.json')") {
            ArtifactMetadata.read(data)
        }
    }

    /** A zip written by java.util.zip (deflated, valid CRC) appended to the real flatbuffer. */
    private fun withZip(member: String, text: String): ByteArray {
        val bos = ByteArrayOutputStream()
        ZipOutputStream(bos).use { z -> z.putNextEntry(ZipEntry(member)); z.write(text.toByteArray()); z.closeEntry() }
        return fixture(plainTflite).readBytes() + bos.toByteArray()
    }

    @Test fun appendedZipVariants() {
        val good = """{"lrdif_metadata": {"schema": "lrdif.model/1", "target": "tflite", "temperature": 1.25}}"""
        assertEquals(1.25, ArtifactMetadata.read(withZip("metadata.json", good)).temperature, 0.0)
        expectThrows<MetadataException>("malformed metadata.json (JSONDecodeError") {
            ArtifactMetadata.read(withZip("metadata.json", "{\"lrdif_metadata\": {"))
        }
        expectThrows<MetadataException>("malformed metadata.json (KeyError: 'lrdif_metadata')") {
            ArtifactMetadata.read(withZip("metadata.json", "{}"))
        }
        expectThrows<MetadataException>("metadata says target 'onnx' but the file is tflite") {
            ArtifactMetadata.read(withZip("metadata.json", good.replace("\"tflite\"", "\"onnx\"")))
        }
        expectThrows<MetadataMissingException>("no appended 'metadata.json'") {
            ArtifactMetadata.read(withZip("labels.txt", "a\nb\n"))
        }
    }
}
