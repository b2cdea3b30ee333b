import NodeDistributed
import Testing

@Suite struct MPILibraryTests {
  @Test func linksAgainstAnMPI3Library() {
    let version = MPILibrary.standardVersion
    #expect(version.major >= 3)
    #expect(MPILibrary.version.contains("MPI"))
  }
}
