# GPAW build settings for `make dft` (pip builds GPAW from source with these).
# Serial build against Debian's libxc and OpenBLAS: apt-get install libxc-dev libopenblas-dev
mpi = False
compiler = "g++"
libraries = ["xc", "openblas"]
