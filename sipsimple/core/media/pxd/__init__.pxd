# Marks this directory as a Cython package of C library declarations (one .pxd per library).
