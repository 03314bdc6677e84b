/* Defines std::ios_base_library_init(), which GCC 13's libstdc++ (GLIBCXX_3.4.32) exports and
 * TorchSharp 0.107's libLibTorchSharp.so references. In GCC 13 it only forces the iostreams to be
 * initialised; libstdc++ 3.4.30 initialises them through its own static constructor, so an empty
 * body is correct there. Linked into libLibTorchSharp.so by torchsharp-compat.sh, and only on a
 * machine whose libstdc++ lacks GLIBCXX_3.4.32. */
void dpq_ios_base_library_init(void) __asm__("_ZSt21ios_base_library_initv");
void dpq_ios_base_library_init(void) {}
