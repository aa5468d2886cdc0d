{#-
  consultations_per_day's figures for a week (Monday to Sunday, by the day the room was opened,
  in var('happytalk_reporting_timezone')) and channel, computed from the week's rooms.
-#}
{{ happytalk_consultation_figures(['source_relation', 'opened_week', 'out_api', 'channel_label', 'channel_label_ko']) }}
