"""Tools that work on runs and code without serving them: in-kernel replay of a stored
history through local code (``replay``) and the versions of code a process has seen
(``code_versions``). Built on the client and the engine; reached through the command layer
or the studio.
"""
