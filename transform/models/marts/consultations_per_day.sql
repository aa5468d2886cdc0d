{#-
  How many consultations did each day bring on each channel, how many were answered and how
  fast (clock and business time, median and p90), how were they rated? One row per day (the day
  the room was opened, in var('happytalk_reporting_timezone')) and channel.
-#}
{{ happytalk_consultation_figures(['source_relation', 'opened_date', 'out_api', 'channel_label', 'channel_label_ko']) }}
