%% Allocates 1 MB at a time (a binary whose every byte is written) and keeps it alive,
%% without end.
main(_) ->
    grow(1, []).

grow(N, Kept) ->
    B = binary:copy(<<(N rem 256)>>, 1 bsl 20),
    case N rem 64 of
        0 -> io:format("~B MB~n", [N]);
        _ -> ok
    end,
    grow(N + 1, [B | Kept]).
